import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { after, before, describe, it } from "node:test";
import { MAX_TREE_DEPTH, MAX_TREE_PATHS } from "../../../gitstore/limits.ts";
import { treesPastBounds } from "../../../gitstore/tree-bounds.ts";
import { tempDir } from "../../helpers/git.ts";

describe("tree bounds: counted by distinct tree, never expanded", () => {
  let work: { path: string; remove(): Promise<void> };
  let gitDir: string;
  const git = (args: string[], input: Buffer | string = "") =>
    execFileSync("git", args, { input, env: { ...process.env, GIT_DIR: gitDir } })
      .toString()
      .trim();
  const blob = (text: string) => git(["hash-object", "-w", "--stdin"], text);
  const tree = (entries: Array<[string, string, string]>) =>
    git(
      ["hash-object", "-t", "tree", "-w", "--literally", "--stdin"],
      Buffer.concat(
        [...entries]
          .sort(([, a], [, b]) => (a < b ? -1 : 1))
          .map(([mode, name, oid]) => Buffer.concat([Buffer.from(`${mode} ${name}\0`), Buffer.from(oid, "hex")])),
      ),
    );
  /** fanout^levels files from levels+1 objects. */
  const bomb = (fanout: number, levels: number) => {
    let t = tree(Array.from({ length: fanout }, (_, i) => ["100644", `f${i}`, blob("x")] as [string, string, string]));
    for (let l = 1; l < levels; l++) {
      const below = t;
      t = tree(Array.from({ length: fanout }, (_, i) => ["40000", `d${i}`, below] as [string, string, string]));
    }
    return t;
  };
  /** Trees 0..depth folders deep, each level naming the one below `fanout` times. */
  const chains = new Map<number, string[]>();
  const chain = (depth: number, fanout = 1) => {
    const levels = chains.get(fanout) ?? [tree([["100644", "leaf", blob("leaf")]])];
    chains.set(fanout, levels);
    while (levels.length <= depth) {
      const below = levels.at(-1)!;
      levels.push(tree(Array.from({ length: fanout }, (_, k) => ["40000", `d${k}`, below] as [string, string, string])));
    }
    return levels[depth]!;
  };
  const commit = (t: string) => git(["commit-tree", t, "-m", "x"], "");

  before(async () => {
    work = await tempDir("tree-bounds");
    gitDir = work.path;
    execFileSync("git", ["init", "-q", "--bare", gitDir]);
  });
  after(async () => work.remove());

  it("accepts an ordinary tree and a tree exactly at the bounds", async () => {
    const ordinary = commit(
      tree([
        ["100644", "a.txt", blob("a")],
        ["40000", "dir", tree([["100644", "b.txt", blob("b")]])],
      ]),
    );
    const atDepth = commit(chain(MAX_TREE_DEPTH));
    const atPaths = commit(bomb(10, 6)); // 1,000,000 = the bound
    assert.equal(MAX_TREE_PATHS, 1_000_000);
    assert.deepEqual([...(await treesPastBounds(gitDir, [ordinary, atDepth, atPaths], (c) => c)).keys()], []);
  });

  it("refuses 10 million paths from 8 small trees, and a tree one folder too deep, naming what", async () => {
    const tenMillion = commit(bomb(10, 7));
    const tooDeep = commit(chain(MAX_TREE_DEPTH + 1));
    const past = await treesPastBounds(gitDir, [tenMillion, tooDeep], (c) => `commit ${c}`);
    assert.equal(past.get(tenMillion)?.code, "tree-too-large");
    assert.match(past.get(tenMillion)!.message, /commit [0-9a-f]{40} points at a tree of more than 1,000,000 paths/);
    assert.match(past.get(tooDeep)!.message, /more than 256 folders deep/);
  });

  it("counts a deep chain where every level names the level below twice (2^200 paths if expanded)", async () => {
    const doubling = commit(chain(200, 2));
    const past = await treesPastBounds(gitDir, [doubling], (c) => c);
    assert.match(past.get(doubling)!.message, /more than 1,000,000 paths/);
  });
});
