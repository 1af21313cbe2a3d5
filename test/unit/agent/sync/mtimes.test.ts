import assert from "node:assert/strict";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { mtimesBetween, mtimeTrailers } from "../../../../agent/sync/mtimes.ts";
import { BlobReader, Git } from "../../../../localgit/index.ts";
import { git, gitInput, initRepo, tempDir } from "../../../helpers/git.ts";

describe("modification times between two commits", () => {
  let work: { path: string; remove(): Promise<void> };
  let repo: string;
  let g: Git;
  let reader: BlobReader;
  const commit = async (parents: string[], times: Array<[string, number]>) => {
    const tree = await git(repo, "write-tree");
    return gitInput(repo, `change${mtimeTrailers(times)}`, "commit-tree", tree, ...parents.flatMap((p) => ["-p", p]));
  };
  before(async () => {
    work = await tempDir("mtimes");
    repo = join(work.path, "repo");
    await mkdir(repo);
    g = new Git(await initRepo(repo));
    reader = new BlobReader(g.gitDir);
  });
  after(async () => {
    await reader.close();
    await work.remove();
  });

  it("reads a line of commits without git log and agrees with it, the newest commit winning; merges go to git log", async () => {
    const root = await commit([], [["a.txt", 1000]]);
    const one = await commit(
      [root],
      [
        ["a.txt", 2000],
        ['b "quoted".txt', 2500],
      ],
    );
    const two = await commit([one], [["a.txt", 3000]]);
    const side = await commit([root], [["c.txt", 4000]]);
    const merge = await commit([two, side], []);
    for (const [from, to] of [
      [root, two],
      [one, two],
      [root, merge],
      [one, merge],
      [two, two],
    ] as const) {
      assert.deepEqual(await mtimesBetween(g, from, to, reader), await mtimesBetween(g, from, to), `${from}..${to}`);
    }
    assert.deepEqual(
      await mtimesBetween(g, root, two, reader),
      new Map([
        ["a.txt", 3000],
        ['b "quoted".txt', 2500],
      ]),
    );
    assert.deepEqual(
      await mtimesBetween(g, one, merge, reader),
      new Map([
        ["a.txt", 3000],
        ["c.txt", 4000],
      ]),
    );
  });
});
