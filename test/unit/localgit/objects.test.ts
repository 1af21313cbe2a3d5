import assert from "node:assert/strict";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { Git, runGit } from "../../../localgit/index.ts";
import { isPlainIdentity, writeCommit } from "../../../localgit/commit.ts";
import { git, gitInput, initRepo, tempDir } from "../../helpers/git.ts";

describe("blobs and commits written without starting git", () => {
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

  it("commits byte for byte as `git commit-tree` writes them, and leaves to git an identity it would clean up", async () => {
    const gitDir = join(repo, ".git");
    const tree = await gitInput(repo, "", "mktree");
    const parent = await gitInput(repo, "first\n", "commit-tree", tree);
    const now = new Date(1_764_374_400_123);
    const offset = -now.getTimezoneOffset();
    const zone = `${offset < 0 ? "-" : "+"}${String(Math.floor(Math.abs(offset) / 60)).padStart(2, "0")}${String(Math.abs(offset) % 60).padStart(2, "0")}`;
    const identity = { name: "Ann Example (laptop)", email: "agent-1@cloudbridge" };
    const message = 'cloudbridge: 1 changed\n\nCloudbridge-Mtime: 1 "a.txt"';
    const byGit = (
      await runGit(["commit-tree", tree, "-p", parent], {
        gitDir,
        input: `${message}\n`,
        env: {
          GIT_AUTHOR_NAME: identity.name,
          GIT_AUTHOR_EMAIL: identity.email,
          GIT_COMMITTER_NAME: identity.name,
          GIT_COMMITTER_EMAIL: identity.email,
          GIT_AUTHOR_DATE: `1764374400 ${zone}`,
          GIT_COMMITTER_DATE: `1764374400 ${zone}`,
        },
      })
    ).stdout
      .toString()
      .trim();
    assert.equal(await writeCommit(gitDir, { tree, parents: [parent], message }, identity, "sha1", now), byGit);
    assert.equal(isPlainIdentity(identity), true);
    for (const odd of [
      { name: "Ann.", email: "a@b" },
      { name: "A <b>", email: "a@b" },
      { name: " Ann", email: "a@b" },
      { name: "Ann", email: "" },
    ])
      assert.equal(isPlainIdentity(odd), false, JSON.stringify(odd));
    // Through the repository handle: a commit git reads back, with the identity as given.
    const g = new Git(gitDir, { identity });
    const made = await g.commitTree(tree, [parent], "second");
    assert.match(await git(repo, "cat-file", "-p", made), /^author Ann Example \(laptop\) <agent-1@cloudbridge> \d+ [+-]\d{4}$/m);
    await git(repo, "fsck", "--strict");
  });
});
