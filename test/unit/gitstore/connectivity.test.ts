import assert from "node:assert/strict";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { missingBeyondQuarantine } from "../../../gitstore/connectivity.ts";
import { commitFile, git, gitInput, initRepo, tempDir } from "../../helpers/git.ts";

/** A quarantine directory holding one pack of exactly `objects` (ids), made in `repo`. */
async function quarantineOf(repo: string, dir: string, objects: readonly string[]): Promise<string> {
  await mkdir(join(dir, "pack"), { recursive: true });
  await gitInput(repo, `${objects.join("\n")}\n`, "pack-objects", "-q", join(dir, "pack", "pack"));
  return dir;
}

describe("connectivity of a fetch's quarantined packs", () => {
  let work: { path: string; remove(): Promise<void> };
  let repo: string;
  let n = 0;
  const fresh = async () => {
    const dir = join(work.path, `repo-${n++}`);
    await mkdir(dir);
    return initRepo(dir);
  };
  const objects = async (range: string[]) => (await git(repo, "rev-list", "--objects", ...range)).split("\n").map((l) => l.slice(0, 40));
  const commits: string[] = [];

  before(async () => {
    work = await tempDir("connectivity");
    repo = join(work.path, "source");
    await mkdir(repo);
    await initRepo(repo);
    commits.push(await commitFile(repo, "dir/a.txt", "a\n"));
    commits.push(await commitFile(repo, "dir/sub/b.txt", "b\n"));
    commits.push(await commitFile(repo, "c.txt", "c\n"));
  });
  after(async () => work.remove());

  it("finds a pack complete when what it does not hold is already in the repository, and incomplete when it is not", async () => {
    const all = await fresh();
    const q1 = await quarantineOf(repo, join(work.path, "q1"), await objects([commits[2]!]));
    assert.deepEqual(await missingBeyondQuarantine(all, [commits[2]!], q1), []);

    // The repository holds the first commit's history; the pack only what came after.
    const holding = await fresh();
    const first = await quarantineOf(repo, join(holding, "objects"), await objects([commits[0]!]));
    assert.ok(first);
    const q2 = await quarantineOf(repo, join(work.path, "q2"), await objects([commits[2]!, `^${commits[0]!}`]));
    assert.deepEqual(await missingBeyondQuarantine(holding, [commits[2]!], q2), []);
    // Without it, the parent commit is missing.
    const missing = await missingBeyondQuarantine(await fresh(), [commits[2]!], q2);
    assert.ok(missing.includes(commits[0]!), `the parent is reported: ${missing.join(", ")}`);
  });

  it("reports a blob a tree names that is nowhere, a tree that is a blob, and a tip that is nowhere", async () => {
    const absent = "1".repeat(40);
    const blob = await gitInput(repo, "x\n", "hash-object", "-w", "--stdin");
    const sub = await gitInput(repo, `100644 blob ${blob}\tx.txt\n`, "mktree");
    const tree = await gitInput(repo, `100644 blob ${absent}\tgone.txt\n040000 tree ${sub}\tsub\n`, "mktree", "--missing");
    const commit = await git(repo, "commit-tree", tree, "-m", "names a blob that is nowhere");
    const q = await quarantineOf(repo, join(work.path, "q3"), [commit, tree, sub, blob]);
    assert.deepEqual(await missingBeyondQuarantine(await fresh(), [commit], q), [absent]);

    // A tree entry that says "folder" for an object that is a blob.
    const raw = Buffer.concat([Buffer.from("40000 sub\0"), Buffer.from(blob, "hex")]);
    const liar = await gitInput(repo, raw, "hash-object", "-t", "tree", "-w", "--stdin", "--literally");
    const lying = await git(repo, "commit-tree", liar, "-m", "a blob named as a folder");
    const q4 = await quarantineOf(repo, join(work.path, "q4"), [lying, liar, blob]);
    assert.deepEqual(await missingBeyondQuarantine(await fresh(), [lying], q4), [blob]);

    assert.deepEqual(await missingBeyondQuarantine(await fresh(), ["2".repeat(40)], q4), ["2".repeat(40)]);
  });
});
