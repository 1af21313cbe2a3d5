import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { SyncEngine } from "../../../../agent/sync/engine.ts";
import { LocalRepo } from "../../../../agent/sync/local-repo.ts";
import { BareRepoRemote } from "../../../../agent/sync/remote.ts";
import { exists, snapshot } from "../../../helpers/folders.ts";
import { tempDir } from "../../../helpers/git.ts";

async function agent(dir: string, bare: string, name: string) {
  await LocalRepo.create(dir);
  const repo = await new LocalRepo(dir, { name, email: `${name}@test` }).open();
  return new SyncEngine(repo, new BareRepoRemote(repo.git, bare));
}

describe("sync engine over a bare repository (native git)", () => {
  let root: string;
  let scratch: { path: string; remove(): Promise<void> };
  before(async () => {
    scratch = await tempDir("engine");
    root = scratch.path;
  });
  after(async () => scratch.remove());

  it("propagates create, modify, rename, delete and keeps both sides of a conflicting edit", async () => {
    const bare = join(root, "remote.git");
    execFileSync("git", ["init", "--quiet", "--bare", "--initial-branch=main", bare]);
    const a = await agent(join(root, "a"), bare, "a");
    const b = await agent(join(root, "b"), bare, "b");
    const A = a.repo.root;
    const B = b.repo.root;

    await mkdir(join(A, "docs"));
    await writeFile(join(A, "docs/note.txt"), "one\n");
    await writeFile(join(A, "run.sh"), "#!/bin/sh\n", { mode: 0o755 });
    const first = await a.sync();
    assert.ok(first.committed);
    await b.sync();
    assert.deepEqual(await snapshot(B), { "docs/note.txt": "one\n", "run.sh": "#!/bin/sh\n" });

    await writeFile(join(A, "docs/note.txt"), "two\n");
    await rename(join(A, "run.sh"), join(A, "start.sh"));
    await a.sync();
    await b.sync();
    assert.deepEqual(await snapshot(B), { "docs/note.txt": "two\n", "start.sh": "#!/bin/sh\n" });

    await rm(join(A, "docs"), { recursive: true });
    await a.sync();
    await b.sync();
    assert.deepEqual(await snapshot(B), { "start.sh": "#!/bin/sh\n" });
    assert.equal(await exists(join(B, "docs")), false, "the emptied folder is removed too");

    // Both edit the same file, one deletes what the other edits.
    await writeFile(join(A, "start.sh"), "#!/bin/sh\necho a\n");
    await writeFile(join(B, "start.sh"), "#!/bin/sh\necho b\n");
    await writeFile(join(A, "shared.txt"), "base\n");
    await a.sync();
    await b.sync();
    await writeFile(join(A, "shared.txt"), "edited by a\n");
    await rm(join(B, "shared.txt"));
    await a.sync();
    const merged = await b.sync();
    assert.ok(merged.merged);
    await a.sync();
    const sa = await snapshot(A);
    assert.deepEqual(sa, await snapshot(B));
    assert.equal(sa["shared.txt"], "edited by a\n", "edit vs delete keeps the edit");
    assert.equal(sa["start.sh"], "#!/bin/sh\necho a\n", "the version already shared keeps the name");
    const variants = Object.keys(sa).filter((p) => /^start\.variant-[0-9a-f]{4}\.sh$/.test(p));
    assert.equal(variants.length, 1, `one variant file in ${Object.keys(sa).join(", ")}`);
    assert.equal(sa[variants[0]!], "#!/bin/sh\necho b\n");
    for (const text of Object.values(sa)) assert.ok(!text.includes("<<<<<<<"), "no conflict marker");
  });

  it("does not re-read unchanged files, and survives a lost stat cache", async () => {
    const bare = join(root, "remote2.git");
    execFileSync("git", ["init", "--quiet", "--bare", "--initial-branch=main", bare]);
    const a = await agent(join(root, "c"), bare, "c");
    for (let i = 0; i < 50; i += 1) await writeFile(join(a.repo.root, `f${i}.txt`), `${i}\n`);
    await a.sync();
    // Old enough to be trusted (not racy).
    const old = new Date(Date.now() - 60_000);
    const { utimes } = await import("node:fs/promises");
    for (let i = 0; i < 50; i += 1) await utimes(join(a.repo.root, `f${i}.txt`), old, old);
    await a.sync();
    const idle = await a.sync();
    assert.equal(idle.scanned, 50);
    assert.equal(idle.hashed, 0, "an unchanged folder is not read");
    assert.equal(idle.committed, undefined);
    await writeFile(join(a.repo.root, "f3.txt"), "changed\n");
    const one = await a.sync();
    assert.equal(one.hashed, 1);
    assert.ok(one.committed);

    await rm(join(a.repo.root, ".git/cloudbridge/stat-cache.json"));
    const reopened = new SyncEngine(await new LocalRepo(a.repo.root).open(), a.remote);
    const again = await reopened.sync();
    assert.equal(again.committed, undefined, "re-hashing everything finds nothing new");
    assert.equal(await readFile(join(a.repo.root, "f3.txt"), "utf8"), "changed\n");
  });
});

describe("a round's index and stat cache", () => {
  let scratch: { path: string; remove(): Promise<void> };
  before(async () => {
    scratch = await tempDir("engine-index");
  });
  after(async () => scratch.remove());

  it("keeps git's index at the tree of the folder's commit through checkouts that add, change, delete and turn a file into a folder and back", async () => {
    const root = scratch.path;
    const bare = join(root, "remote.git");
    execFileSync("git", ["init", "--quiet", "--bare", "--initial-branch=main", bare]);
    const a = await agent(join(root, "a"), bare, "a");
    const b = await agent(join(root, "b"), bare, "b");
    const A = a.repo.root;
    const B = b.repo.root;
    /** What git's index holds differs from B's commit: the paths (empty when they are the same). */
    const indexDrift = () =>
      execFileSync("git", ["-C", B, "diff-index", "--cached", "--name-only", "-z", b.repo.cache.commit!])
        .toString()
        .split("\0")
        .filter(Boolean);
    await writeFile(join(A, "keep.txt"), "keep\n");
    await writeFile(join(A, "thing"), "a file\n");
    await writeFile(join(A, "gone.txt"), "gone\n");
    await a.sync();
    await b.sync();
    assert.deepEqual(indexDrift(), []);
    await rm(join(A, "thing"));
    await mkdir(join(A, "thing"));
    await writeFile(join(A, "thing", "inside.txt"), "inside\n");
    await rm(join(A, "gone.txt"));
    await writeFile(join(A, "keep.txt"), "kept, changed\n");
    await writeFile(join(A, "new.txt"), "new\n");
    await a.sync();
    await b.sync();
    assert.deepEqual(await snapshot(B), { "keep.txt": "kept, changed\n", "new.txt": "new\n", "thing/inside.txt": "inside\n" });
    assert.deepEqual(indexDrift(), [], "the index follows the checkout");
    await rm(join(A, "thing"), { recursive: true });
    await writeFile(join(A, "thing"), "a file again\n");
    await a.sync();
    await b.sync();
    assert.deepEqual(indexDrift(), [], "a folder become a file again");
    // A local commit on B builds on that index: nothing of the older trees comes back.
    await writeFile(join(B, "from-b.txt"), "b\n");
    await b.sync();
    const tree = execFileSync("git", ["-C", B, "ls-tree", "-r", "--name-only", "main"]).toString().trim().split("\n");
    assert.deepEqual(tree, ["from-b.txt", "keep.txt", "new.txt", "thing"]);
  });

  it("writes the stat cache once the round lets go of the folder, holding what the round learned", async () => {
    const root = join(scratch.path, "cache");
    const bare = join(root, "remote.git");
    await mkdir(root);
    execFileSync("git", ["init", "--quiet", "--bare", "--initial-branch=main", bare]);
    const a = await agent(join(root, "a"), bare, "a");
    const A = a.repo.root;
    await writeFile(join(A, "one.txt"), "1\n");
    const report = await a.sync();
    // Another process opening the folder now reads the same picture from disk (snapshot and journal):
    // what the round committed, and nothing to commit.
    const again = await new LocalRepo(A).open();
    assert.equal(again.cache.commit, report.committed);
    assert.deepEqual([...again.cache.entries.keys()], ["one.txt"]);
    assert.equal((await again.commitChanges()).commit, undefined);
  });
});
