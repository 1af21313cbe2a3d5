import assert from "node:assert/strict";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import {
  BlobReader,
  editTree,
  encodePath,
  parseDiffTree,
  parseLsTree,
  runGit,
  treeChanges,
  TreeEditConflict,
  type TreeChange,
  type TreeEdit,
} from "../../../localgit/index.ts";
import { git, gitInput, initRepo, tempDir } from "../../helpers/git.ts";

/** What git's own index makes of the same edits: `read-tree`, `update-index --index-info`, `write-tree`. */
async function throughIndex(gitDir: string, base: string, edits: ReadonlyMap<string, TreeEdit | null>): Promise<string> {
  const env = { GIT_INDEX_FILE: join(gitDir, "scratch-index") };
  await runGit(["read-tree", base], { gitDir, env });
  const lines = [...edits].flatMap(([path, e]) => [
    Buffer.from(e ? `${e.mode} blob ${e.oid}\t` : `0 ${"0".repeat(40)}\t`),
    encodePath(path),
    Buffer.from([0]),
  ]);
  await runGit(["update-index", "-z", "--add", "--remove", "--index-info"], { gitDir, env, input: Buffer.concat(lines) });
  return (await runGit(["write-tree"], { gitDir, env })).stdout.toString().trim();
}

describe("editing and comparing trees without git's index", () => {
  let work: { path: string; remove(): Promise<void> };
  let repo: string;
  let gitDir: string;
  let reader: BlobReader;
  let base: string;
  const blob = (text: string) => gitInput(repo, text, "hash-object", "-w", "--stdin");

  before(async () => {
    work = await tempDir("tree-edit");
    repo = join(work.path, "repo");
    await mkdir(repo);
    gitDir = await initRepo(repo);
    const [a, b, c] = [await blob("a\n"), await blob("b\n"), await blob("c\n")];
    // Names whose order differs between a plain sort and git's (a folder sorts as "name/"), and a name that is not UTF-8.
    const listing = [
      `100644 blob ${a}\ta.txt`,
      `100644 blob ${b}\tab/x.txt`,
      `100644 blob ${b}\tab-c.txt`,
      `100755 blob ${c}\tbin/run`,
      `120000 blob ${a}\tlink`,
      `100644 blob ${c}\tdeep/er/still/f.txt`,
      `100644 blob ${c}\tdeep/other.txt`,
      `100644 blob ${a}\tweird \xff name.txt`,
    ];
    const env = { GIT_INDEX_FILE: join(gitDir, "build-index") };
    const input = Buffer.concat(listing.map((line) => Buffer.concat([Buffer.from(line, "latin1"), Buffer.from([0])])));
    await runGit(["update-index", "-z", "--add", "--index-info"], { gitDir, env, input });
    base = (await runGit(["write-tree"], { gitDir, env })).stdout.toString().trim();
    reader = new BlobReader(gitDir);
  });
  after(async () => {
    await reader.close();
    await work.remove();
  });

  it("writes the very tree git's index writes, for additions, changes, removals, new and emptied folders, files becoming folders and back", async () => {
    const [n, m] = [await blob("new\n"), await blob("more\n")];
    const cases: Array<Array<[string, TreeEdit | null]>> = [
      [["a.txt", { mode: "100644", oid: n }]],
      [["ab/y.txt", { mode: "100644", oid: n }]],
      [
        ["ab.txt", { mode: "100755", oid: n }],
        ["ab/x.txt", null],
      ],
      [["deep/er/still/f.txt", null]],
      [
        ["deep/er/still/f.txt", null],
        ["deep/other.txt", null],
      ],
      [
        ["new/folder/here.txt", { mode: "100644", oid: n }],
        ["link", { mode: "120000", oid: m }],
      ],
      [
        ["a.txt", null],
        ["a.txt/inside", { mode: "100644", oid: m }],
      ],
      [
        ["ab/x.txt", null],
        ["ab", { mode: "100644", oid: m }],
      ],
      [
        ["weird \udcff name.txt", { mode: "100644", oid: m }],
        ["ü.txt", { mode: "100644", oid: n }],
      ],
    ];
    for (const edits of cases) {
      const map = new Map(edits);
      const expected = await throughIndex(gitDir, base, map);
      const edited = await editTree(gitDir, reader, base, map);
      assert.equal(edited, expected, JSON.stringify(edits));
      // And back: the changes between the two trees, as git's diff-tree lists them.
      for (const [from, to] of [
        [base, edited],
        [edited, base],
      ] as const) {
        const byGit = parseDiffTree((await runGit(["diff-tree", "-r", "-z", "--no-renames", from, to], { gitDir })).stdout);
        const sorted = (list: TreeChange[]) => [...list].sort((a, b) => (a.path + a.deleted < b.path + b.deleted ? -1 : 1));
        assert.deepEqual(sorted(await treeChanges(reader, from, to)), sorted(byGit), `${JSON.stringify(edits)} ${from}..${to}`);
      }
    }
    // Every file removed: the empty tree.
    const listed = parseLsTree((await runGit(["ls-tree", "-r", "-z", base], { gitDir })).stdout);
    const all = new Map<string, null>([...listed.keys()].map((path) => [path, null]));
    assert.equal(await editTree(gitDir, reader, base, all), "4b825dc642cb6eb9a060e54bf8d69288fbee4904");
    await git(repo, "fsck", "--strict", "--no-dangling");
  });

  it("refuses a file and a folder of one name, as git's index would", async () => {
    const n = await blob("new\n");
    await assert.rejects(editTree(gitDir, reader, base, new Map([["a.txt/inside", { mode: "100644", oid: n }]])), TreeEditConflict);
    await assert.rejects(editTree(gitDir, reader, base, new Map([["ab", { mode: "100644", oid: n }]])), TreeEditConflict);
  });
});
