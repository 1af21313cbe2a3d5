import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { Git } from "../../../../localgit/index.ts";
import { mergeCommits, variantName } from "../../../../agent/sync/merge.ts";
import { tempDir } from "../../../helpers/git.ts";

/** Commits built from path → content maps (null: a directory entry is implied by the paths). */
function commitOf(gitDir: string, files: Record<string, string>, parents: string[] = []): string {
  const env = {
    ...process.env,
    GIT_DIR: gitDir,
    GIT_INDEX_FILE: join(gitDir, "test-index"),
    GIT_AUTHOR_NAME: "t",
    GIT_AUTHOR_EMAIL: "t@t",
    GIT_COMMITTER_NAME: "t",
    GIT_COMMITTER_EMAIL: "t@t",
  };
  execFileSync("git", ["read-tree", "--empty"], { env });
  for (const [path, content] of Object.entries(files)) {
    const oid = execFileSync("git", ["hash-object", "-w", "--stdin"], { env, input: content }).toString().trim();
    execFileSync("git", ["update-index", "--add", "--cacheinfo", `100644,${oid},${path}`], { env });
  }
  const tree = execFileSync("git", ["write-tree"], { env }).toString().trim();
  return execFileSync("git", ["commit-tree", tree, ...parents.flatMap((p) => ["-p", p]), "-m", "t"], { env })
    .toString()
    .trim();
}

function filesOf(gitDir: string, commit: string): Record<string, string> {
  const env = { ...process.env, GIT_DIR: gitDir };
  const names = execFileSync("git", ["ls-tree", "-r", "--name-only", commit], { env }).toString().split("\n").filter(Boolean);
  return Object.fromEntries(names.map((n) => [n, execFileSync("git", ["show", `${commit}:${n}`], { env }).toString()]));
}

describe("assistant-style merge", () => {
  let dir: { path: string; remove(): Promise<void> };
  let gitDir: string;
  before(async () => {
    dir = await tempDir("merge");
    gitDir = join(dir.path, "repo.git");
    execFileSync("git", ["init", "--quiet", "--bare", gitDir]);
  });
  after(async () => dir.remove());

  it("keeps both sides: one-sided changes, renames, deletes, edit vs delete, edit vs edit as a variant", async () => {
    const base = commitOf(gitDir, {
      "same.txt": "s\n",
      "ours-edit.txt": "1\n",
      "theirs-edit.txt": "1\n",
      "both.txt": "base\n",
      "edit-vs-del.txt": "x\n",
      "del-vs-edit.txt": "y\n",
      "moved.txt": "m\n",
      "photo.jpg": "p0",
    });
    const ours = commitOf(
      gitDir,
      {
        "same.txt": "s\n",
        "ours-edit.txt": "2\n",
        "theirs-edit.txt": "1\n",
        "both.txt": "ours\n",
        "edit-vs-del.txt": "x edited\n",
        "renamed.txt": "m\n",
        "photo.jpg": "p-ours",
      },
      [base],
    );
    const theirs = commitOf(
      gitDir,
      {
        "same.txt": "s\n",
        "ours-edit.txt": "1\n",
        "theirs-edit.txt": "3\n",
        "both.txt": "theirs\n",
        "del-vs-edit.txt": "y edited\n",
        "moved.txt": "m\n",
        "photo.jpg": "p-theirs",
        "new.txt": "n\n",
      },
      [base],
    );
    const git = new Git(gitDir);
    const outcome = await mergeCommits(git, { base, ours, theirs }, { scratchDir: dir.path });
    const merged = filesOf(gitDir, outcome.commit);
    const variant = (path: string) => outcome.variants.find((v) => v.path === path)!.variant;
    assert.match(variant("both.txt"), /^both\.variant-[0-9a-f]{4}\.txt$/);
    assert.match(variant("photo.jpg"), /^photo\.variant-[0-9a-f]{4}\.jpg$/);
    assert.deepEqual(merged, {
      "same.txt": "s\n",
      "ours-edit.txt": "2\n",
      "theirs-edit.txt": "3\n",
      "both.txt": "theirs\n",
      [variant("both.txt")]: "ours\n",
      "edit-vs-del.txt": "x edited\n",
      "del-vs-edit.txt": "y edited\n",
      "renamed.txt": "m\n",
      "photo.jpg": "p-theirs",
      [variant("photo.jpg")]: "p-ours",
      "new.txt": "n\n",
    });
    const parents = execFileSync("git", ["rev-list", "--parents", "-n", "1", outcome.commit], { env: { ...process.env, GIT_DIR: gitDir } })
      .toString()
      .trim()
      .split(" ");
    assert.deepEqual(parents.slice(1), [ours, theirs], "a merge commit of both, so the push callback's ancestry check holds");
  });

  it("moves a file aside when the other side made a folder of that name, and fast-forwards when it can", async () => {
    const base = commitOf(gitDir, { "keep.txt": "k" });
    const ours = commitOf(gitDir, { "keep.txt": "k", notes: "a file" }, [base]);
    const theirs = commitOf(gitDir, { "keep.txt": "k", "notes/one.txt": "in a folder" }, [base]);
    const git = new Git(gitDir);
    const outcome = await mergeCommits(git, { base, ours, theirs }, { scratchDir: dir.path });
    const merged = filesOf(gitDir, outcome.commit);
    assert.equal(merged["notes/one.txt"], "in a folder");
    const aside = Object.keys(merged).find((p) => p.startsWith("notes.variant-"));
    assert.ok(aside && merged[aside] === "a file", `the file is kept beside the folder: ${Object.keys(merged).join(", ")}`);
    assert.equal((await mergeCommits(git, { base, ours: base, theirs }, { scratchDir: dir.path })).commit, theirs);
    assert.equal((await mergeCommits(git, { base, ours, theirs: base }, { scratchDir: dir.path })).commit, ours);
  });

  it("names variants as git-annex does, longer when the short name is taken", () => {
    const taken = new Map<string, unknown>();
    const first = variantName("dir/a.tar.gz", "SHA256E-s1--00", taken);
    assert.match(first, /^dir\/a\.tar\.variant-[0-9a-f]{4}\.gz$/);
    taken.set(first, true);
    assert.match(variantName("dir/a.tar.gz", "SHA256E-s1--00", taken), /^dir\/a\.tar\.variant-[0-9a-f]{8}\.gz$/);
    assert.match(variantName("Makefile", "x", new Map()), /^Makefile\.variant-[0-9a-f]{4}$/);
  });
});
