import assert from "node:assert/strict";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { commonGitDir, runGit } from "../../../localgit/index.ts";
import { commitFile, initRepo, tempDir } from "../../helpers/git.ts";

/** The repository's own directory, as git finds it (`rev-parse --git-common-dir`), from any of its git directories. */
describe("localgit: the repository's common directory", () => {
  let work: { path: string; remove(): Promise<void> };
  before(async () => {
    work = await tempDir("localgit-repository");
  });
  after(async () => work.remove());

  it("is the git directory itself, or for a linked worktree the one its commondir names, as git says", async () => {
    const repo = join(work.path, "repo");
    await mkdir(repo);
    const gitDir = await initRepo(repo);
    const first = await commitFile(repo, "a.txt", "1\n");
    const linked = join(work.path, "linked");
    await runGit(["worktree", "add", "--detach", linked, first], { gitDir, cwd: repo });
    const asGit = async (cwd: string) =>
      (await runGit(["rev-parse", "--path-format=absolute", "--absolute-git-dir", "--git-common-dir"], { cwd })).stdout
        .toString()
        .trim()
        .split("\n") as [string, string];
    for (const cwd of [repo, linked]) {
      const [own, common] = await asGit(cwd);
      assert.equal(commonGitDir(own, {}), common, cwd);
    }
    const [own] = await asGit(linked);
    assert.notEqual(commonGitDir(own, {}), own, "a linked worktree's is not its own");
    assert.equal(commonGitDir(own, { GIT_COMMON_DIR: "/somewhere/else" }), "/somewhere/else", "GIT_COMMON_DIR wins, as with git");
  });
});
