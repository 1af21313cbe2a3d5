import assert from "node:assert/strict";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import {
  isAncestor,
  LocalGitError,
  readRefs,
  resolveCommit,
  resolveRef,
  runGit,
  swapRef,
  updateRef,
  updateRefs,
} from "../../../localgit/index.ts";
import { commitFile, initRepo, tempDir } from "../../helpers/git.ts";

describe("localgit: refs", () => {
  let work: { path: string; remove(): Promise<void> };
  let gitDir: string;
  let first: string;
  let second: string;
  before(async () => {
    work = await tempDir("localgit-refs");
    const repo = join(work.path, "repo");
    await mkdir(repo);
    gitDir = await initRepo(repo);
    first = await commitFile(repo, "a.txt", "1\n");
    second = await commitFile(repo, "a.txt", "2\n");
  });
  after(async () => work.remove());

  it("compare-and-swap: moves only from the expected commit, and creates only what does not exist", async () => {
    assert.equal(await swapRef(gitDir, "refs/heads/cas", first, undefined), true);
    assert.equal(await swapRef(gitDir, "refs/heads/cas", second, undefined), false, "it exists already");
    assert.equal(await swapRef(gitDir, "refs/heads/cas", second, second), false, "it is not at the expected commit");
    assert.equal(await swapRef(gitDir, "refs/heads/cas", second, first), true);
    assert.equal(await resolveCommit(gitDir, "refs/heads/cas"), second);
    await assert.rejects(updateRef(gitDir, "refs/heads/cas", first, { expected: first }), LocalGitError);
    await updateRef(gitDir, "refs/heads/cas", first, { expected: second });
    assert.equal(await resolveCommit(gitDir, "refs/heads/cas"), first);
  });

  it("reads a branch's commit from the ref files as git does: loose, packed, absent, and through a linked work tree", async () => {
    const asGit = async (dir: string, ref: string) => {
      const run = await runGit(["rev-parse", "--verify", "--quiet", `${ref}^{commit}`], { gitDir: dir, okCodes: [1, 128] });
      return run.code === 0 ? run.stdout.toString().trim() : undefined;
    };
    await updateRef(gitDir, "refs/heads/read/loose", first);
    await updateRef(gitDir, "refs/heads/read/packed", second);
    await runGit(["pack-refs", "--all"], { gitDir });
    await updateRef(gitDir, "refs/heads/read/loose", second); // loose again, over its packed line
    const repo = join(work.path, "repo");
    const linked = join(work.path, "linked");
    await runGit(["worktree", "add", "--detach", linked, first], { gitDir, cwd: repo });
    const linkedGitDir = (await runGit(["rev-parse", "--absolute-git-dir"], { cwd: linked })).stdout.toString().trim();
    for (const dir of [gitDir, linkedGitDir])
      for (const ref of ["refs/heads/read/loose", "refs/heads/read/packed", "refs/heads/read/none", "refs/heads/main", "HEAD", "main"]) {
        const expected = await asGit(dir, ref);
        assert.equal(await resolveCommit(dir, ref), expected, `${ref} in ${dir === gitDir ? "the repository" : "a linked work tree"}`);
      }
    assert.equal(await resolveCommit(gitDir, "refs/heads/read/packed"), second);
    assert.equal(await resolveCommit(linkedGitDir, "refs/heads/read/loose"), second);
  });

  it("reads a branch from git's files as git does: loose, packed, moved after packing, absent", async () => {
    const git = async (rev: string) => {
      const run = await runGit(["rev-parse", "--verify", "--quiet", `${rev}^{commit}`], { gitDir, okCodes: [1, 128] });
      return run.code === 0 ? run.stdout.toString().trim() : undefined;
    };
    await updateRef(gitDir, "refs/heads/files/read", first);
    assert.equal(await resolveCommit(gitDir, "refs/heads/files/read"), first, "loose");
    await runGit(["pack-refs", "--all"], { gitDir });
    assert.equal(await resolveCommit(gitDir, "refs/heads/files/read"), first, "packed only");
    await updateRef(gitDir, "refs/heads/files/read", second);
    assert.equal(await resolveCommit(gitDir, "refs/heads/files/read"), second, "a loose ref outranks its packed line");
    await runGit(["update-ref", "-d", "refs/heads/files/read"], { gitDir });
    assert.equal(await resolveCommit(gitDir, "refs/heads/files/read"), undefined, "deleted: neither loose nor packed");
    assert.equal(await resolveCommit(gitDir, "refs/heads/never"), undefined);
    await runGit(["symbolic-ref", "refs/heads/files/link", "refs/heads/main"], { gitDir });
    assert.equal(await resolveCommit(gitDir, "refs/heads/files/link"), await git("refs/heads/main"), "a symbolic ref is git's to follow");
  });

  it("resolves a ref to the object it names as `git rev-parse --verify` does, a branch from its files, a tag unpeeled", async () => {
    const asGit = async (rev: string) => {
      const run = await runGit(["rev-parse", "--verify", "--quiet", rev], { gitDir, okCodes: [1, 128] });
      return run.code === 0 ? run.stdout.toString().trim() : undefined;
    };
    await updateRef(gitDir, "refs/heads/resolve/packed", first);
    await runGit(["tag", "-a", "-m", "a tag", "resolve-tag", second], { gitDir });
    await runGit(["pack-refs", "--all"], { gitDir });
    await updateRef(gitDir, "refs/heads/resolve/loose", second);
    await runGit(["symbolic-ref", "refs/heads/resolve/link", "refs/heads/resolve/packed"], { gitDir });
    const refs = ["refs/heads/resolve/loose", "refs/heads/resolve/packed", "refs/heads/resolve/link", "refs/heads/resolve/none"];
    for (const rev of [...refs, "refs/tags/resolve-tag", "HEAD", "main"])
      assert.equal(await resolveRef(gitDir, rev), await asGit(rev), rev);
    assert.equal(await resolveRef(gitDir, "refs/heads/resolve/loose"), second);
    assert.equal(await resolveRef(gitDir, "refs/heads/resolve/packed"), first);
    assert.equal(await resolveRef(gitDir, "refs/heads/resolve/none"), undefined);
    assert.notEqual(await resolveRef(gitDir, "refs/tags/resolve-tag"), second, "the tag object, not its commit");
  });

  it("lists the refs under some prefixes as `git for-each-ref` does, from git's files: loose, packed, loose over packed, nested, in git's order", async () => {
    const asGit = async (prefixes: string[]) => {
      const run = await runGit(["for-each-ref", "--format=%(objectname) %(refname)", ...prefixes], { gitDir });
      return [
        ...run.stdout
          .toString()
          .split("\n")
          .filter(Boolean)
          .map((line) => [line.slice(41), line.slice(0, 40)] as [string, string]),
      ];
    };
    const prefixes = ["refs/remotes/list/", "refs/remotes/list-synced/"];
    assert.deepEqual([...(await readRefs(gitDir, prefixes))], [], "none yet");
    await updateRefs(gitDir, [
      { ref: "refs/remotes/list/main", oid: first },
      { ref: "refs/remotes/list/git-annex", oid: second },
      { ref: "refs/remotes/list-synced/agent-1/main", oid: first },
      { ref: "refs/remotes/listed-elsewhere/main", oid: first },
    ]);
    await runGit(["pack-refs", "--all"], { gitDir });
    await updateRefs(gitDir, [
      { ref: "refs/remotes/list/main", oid: second },
      { ref: "refs/remotes/list-synced/agent-2/deep/main", oid: second },
    ]);
    await runGit(["update-ref", "-d", "refs/remotes/list/git-annex"], { gitDir });
    const read = [...(await readRefs(gitDir, prefixes))];
    assert.deepEqual(read, await asGit(prefixes));
    assert.deepEqual(read, [
      ["refs/remotes/list-synced/agent-1/main", first],
      ["refs/remotes/list-synced/agent-2/deep/main", second],
      ["refs/remotes/list/main", second],
    ]);
    // A symbolic ref among them is git's to follow.
    await runGit(["symbolic-ref", "refs/remotes/list/HEAD", "refs/remotes/list/main"], { gitDir });
    assert.deepEqual([...(await readRefs(gitDir, prefixes))], await asGit(prefixes));
    assert.equal((await readRefs(gitDir, prefixes)).get("refs/remotes/list/HEAD"), second);
  });

  it("moves several refs in one transaction: all or nothing", async () => {
    await updateRefs(gitDir, [
      { ref: "refs/remotes/r/a", oid: first },
      { ref: "refs/remotes/r/b", oid: second },
    ]);
    assert.deepEqual(
      await readRefs(gitDir, ["refs/remotes/r/"]),
      new Map([
        ["refs/remotes/r/a", first],
        ["refs/remotes/r/b", second],
      ]),
    );
    await assert.rejects(
      updateRefs(gitDir, [
        { ref: "refs/remotes/r/a", oid: null },
        { ref: "refs/remotes/r/bad..name", oid: first },
      ]),
      (error: unknown) => error instanceof LocalGitError && error.code === "git-failed",
    );
    assert.equal((await readRefs(gitDir, ["refs/remotes/r/"])).size, 2, "the valid half did not happen either");
  });

  it("is-ancestor: one rule — a commit that is not here is an ancestor of nothing; other failures throw", async () => {
    assert.equal(await isAncestor(gitDir, first, second), true);
    assert.equal(await isAncestor(gitDir, second, first), false);
    assert.equal(await isAncestor(gitDir, "f".repeat(40), second), false);
    await assert.rejects(isAncestor(gitDir, first, "f".repeat(40)), LocalGitError);
  });

  it("is-ancestor reads new commits that are loose objects without starting git, and asks git once they are packed", async () => {
    const repo = join(work.path, "loose-walk");
    await mkdir(repo);
    const looseGitDir = await initRepo(repo);
    const base = await commitFile(repo, "a.txt", "base\n");
    const tips = [base];
    for (let i = 0; i < 3; i++) tips.push(await commitFile(repo, "a.txt", `${i}\n`));
    const withoutGit = async <T>(work: () => Promise<T>): Promise<T> => {
      const saved = process.env.PATH;
      process.env.PATH = "/nonexistent";
      try {
        return await work();
      } finally {
        process.env.PATH = saved;
      }
    };
    assert.equal(await withoutGit(() => isAncestor(looseGitDir, base, tips[3]!)), true, "three loose commits back");
    assert.equal(await withoutGit(() => isAncestor(looseGitDir, tips[2]!, tips[2]!)), true, "a commit is its own ancestor");
    // Not found by the walk: git decides (here it cannot start, so the question fails rather than being answered wrong).
    await assert.rejects(withoutGit(() => isAncestor(looseGitDir, tips[3]!, base)));
    await runGit(["gc", "--quiet"], { gitDir: looseGitDir });
    await assert.rejects(
      withoutGit(() => isAncestor(looseGitDir, base, tips[3]!)),
      "packed commits are git's to walk",
    );
    assert.equal(await isAncestor(looseGitDir, base, tips[3]!), true);
    assert.equal(await isAncestor(looseGitDir, tips[3]!, base), false);
  });

  it("is-ancestor while another process fetches the commit in: never an error, always the truth (20 rounds)", async () => {
    // One process asks about a commit the folder does not have yet, again and again, while another (git
    // fetch) brings it in: git's "Not a valid commit name" for a commit that arrived a moment later was
    // reported as a failure (seen between a publish and a fetch of the git-annex branch).
    const source = join(work.path, "fetched-from");
    await mkdir(source);
    await initRepo(source);
    const failures: string[] = [];
    for (let round = 0; round < 20; round++) {
      const arriving = await commitFile(source, "b.txt", `${round}\n`);
      let fetched = false;
      const ask = async () => {
        const answer = await isAncestor(gitDir, arriving, second).catch((error: Error) => error.message);
        if (answer !== false) failures.push(`round ${round}: ${String(answer)}`);
      };
      const asking = (async () => {
        while (!fetched) await ask();
        await ask(); // once it is surely here
      })();
      await new Promise((resolve) => setTimeout(resolve, 10 + ((round * 7) % 25)));
      await runGit(["fetch", "--quiet", source, `+refs/heads/main:refs/remotes/source/main`], { gitDir });
      fetched = true;
      await asking;
    }
    assert.deepEqual(failures, []);
  });

  it("reports a git that cannot start with its own code", async () => {
    const saved = process.env.PATH;
    process.env.PATH = "/nonexistent";
    try {
      await assert.rejects(runGit(["version"]), (error: unknown) => error instanceof LocalGitError && error.code === "git-unavailable");
    } finally {
      process.env.PATH = saved;
    }
  });
});
