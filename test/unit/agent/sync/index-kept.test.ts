import assert from "node:assert/strict";
import { mkdir, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, it } from "node:test";
import { git, gitInput } from "../../../helpers/git.ts";
import { newLocalRepo, openLocalRepo } from "../../../helpers/local-repo.ts";
import { useTempDir } from "../../../helpers/test-bed.ts";

/**
 * Opening a folder (every `cloudbridge sync`, every daemon start) does not rebuild git's index from the
 * whole tree when the index is still the one the agent left; an index anything else changed is rebuilt.
 */
describe("git's index across openings of a folder", () => {
  const scratch = useTempDir("index-kept");

  it("is kept as the agent left it, and rebuilt when another hand changed it", async () => {
    const dir = join(scratch.path, "folder");
    const first = await newLocalRepo(dir);
    await writeFile(join(dir, "a.txt"), "a\n");
    await writeFile(join(dir, "b.txt"), "b\n");
    assert.ok((await first.commitChanges()).commit);
    const index = join(dir, ".git", "index");
    const left = await stat(index);

    await openLocalRepo(dir);
    const after = await stat(index);
    assert.deepEqual([after.ino, after.mtimeMs], [left.ino, left.mtimeMs], "the index was not rewritten");

    // Someone stages a file by hand: the next opening puts the tree of the folder's commit back.
    await writeFile(join(dir, "staged.txt"), "by hand\n");
    await git(dir, "add", "staged.txt");
    const reopened = await openLocalRepo(dir);
    assert.deepEqual((await git(dir, "ls-files")).split("\n"), ["a.txt", "b.txt"]);
    // and the next commit holds only what the agent committed (the file itself, found by the scan).
    const { commit } = await reopened.commitChanges();
    assert.deepEqual((await git(dir, "ls-tree", "--name-only", commit!)).split("\n"), ["a.txt", "b.txt", "staged.txt"]);
  });

  it("holds each commit's tree once the folder is let go, though a commit of a few files writes its tree without it", async () => {
    const dir = join(scratch.path, "few");
    const repo = await newLocalRepo(dir);
    await mkdir(join(dir, "sub"), { recursive: true });
    for (const name of ["a.txt", "sub/b.txt", "sub/c.txt"]) await writeFile(join(dir, name), `${name}\n`);
    assert.ok((await repo.commitChanges()).commit);
    await writeFile(join(dir, "sub/b.txt"), "changed\n");
    await rm(join(dir, "sub/c.txt"));
    await writeFile(join(dir, "new.txt"), "new\n");
    const { commit } = await repo.commitChanges({ paths: ["sub/b.txt", "sub/c.txt", "new.txt"] });
    assert.ok(commit);
    assert.deepEqual((await git(dir, "ls-tree", "-r", "--name-only", commit)).split("\n"), ["a.txt", "new.txt", "sub/b.txt"]);
    // A person's plain git sees the folder as committed: nothing staged, nothing changed.
    assert.equal(await git(dir, "status", "--porcelain"), "");
    assert.equal(await git(dir, "write-tree"), await git(dir, "rev-parse", `${commit}^{tree}`));
    await git(dir, "fsck", "--strict", "--no-dangling");
  });

  it("is rebuilt when main moved without the agent's record of it (a crash between a commit and the index catching up)", async () => {
    const dir = join(scratch.path, "moved");
    const repo = await newLocalRepo(dir);
    await writeFile(join(dir, "a.txt"), "a\n");
    const { commit: first } = await repo.commitChanges();
    assert.ok(first);
    // main moves on to a commit the index knows nothing of, the index and the stat cache left as they were.
    await writeFile(join(dir, "b.txt"), "b\n");
    const blob = await git(dir, "hash-object", "-w", "b.txt");
    const tree = await gitInput(dir, `100644 blob ${blob}\tb.txt\n`, "mktree");
    const next = await git(dir, "commit-tree", tree, "-p", first, "-m", "made elsewhere");
    await git(dir, "update-ref", "refs/heads/main", next);
    await openLocalRepo(dir);
    assert.equal(await git(dir, "write-tree"), tree, "the index holds main's tree");
  });
});
