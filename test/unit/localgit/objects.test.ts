import assert from "node:assert/strict";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { Git, runGit } from "../../../localgit/index.ts";
import { git, gitInput, initRepo, tempDir } from "../../helpers/git.ts";

describe("blobs written without starting git", () => {
  let work: { path: string; remove(): Promise<void> };
  let repo: string;
  before(async () => {
    work = await tempDir("objects");
    repo = join(work.path, "repo");
    await mkdir(repo);
    await initRepo(repo);
  });
  after(async () => work.remove());

  it("have the ids and the content `git hash-object -w --no-filters` gives them, for a few files and for many", async () => {
    const contents = ["", "one line\n", "no newline", "\0binary\xff\r\n", "x".repeat(200_000)];
    const paths = await Promise.all(
      contents.map(async (content, i) => {
        const path = join(repo, `f${i}.txt`);
        await writeFile(path, content, "latin1");
        return path;
      }),
    );
    // Text attributes that would change a filtered hash: the blobs are the bytes on disk.
    await writeFile(join(repo, ".gitattributes"), "* text=auto eol=crlf\n");
    const expected = await Promise.all(paths.map((path) => git(repo, "hash-object", "--no-filters", path)));
    const g = new Git(join(repo, ".git"));
    assert.deepEqual(await g.hashFiles(paths), expected);
    const many = Array.from({ length: 40 }, (_, i) => paths[i % paths.length]!);
    assert.deepEqual(
      await g.hashFiles(many),
      many.map((path) => expected[paths.indexOf(path)]),
    );
    assert.equal(await g.hashBlob("a pointer\n"), await gitInput(repo, "a pointer\n", "hash-object", "--stdin", "--no-filters"));
    for (const [i, oid] of expected.entries())
      assert.deepEqual((await runGit(["cat-file", "blob", oid], { cwd: repo })).stdout, Buffer.from(contents[i]!, "latin1"));
    await git(repo, "fsck", "--strict");
  });
});
