import assert from "node:assert/strict";
import { stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, it } from "node:test";
import { git } from "../../../helpers/git.ts";
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
});
