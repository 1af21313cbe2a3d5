import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdir, readdir, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { SyncEngine } from "../../../../agent/sync/engine.ts";
import { LocalRepo } from "../../../../agent/sync/local-repo.ts";
import type { SyncRemote } from "../../../../agent/sync/remote.ts";
import { unsafePathReason, unsafeSymlinkReason } from "../../../../agent/sync/safe-paths.ts";
import { snapshot } from "../../../helpers/folders.ts";
import { tempDir } from "../../../helpers/git.ts";
import { hostileCommit } from "../../../helpers/hostile-tree.ts";

describe("hostile trees", () => {
  let root: string;
  let scratch: { path: string; remove(): Promise<void> };
  before(async () => {
    scratch = await tempDir("hostile");
    root = scratch.path;
  });
  after(async () => scratch.remove());

  it("names every unsafe path with a reason", () => {
    assert.match(unsafePathReason("../x")!, /"\.\." component/);
    assert.match(unsafePathReason("/etc/passwd")!, /absolute/);
    assert.match(unsafePathReason(".git/hooks/x")!, /inside "\.git"/);
    assert.match(unsafePathReason("a/.GIT/config")!, /inside "\.git"/);
    assert.match(unsafePathReason("x".repeat(256))!, /longer than 255 bytes/);
    assert.match(unsafePathReason("a:b", "darwin")!, /macOS/);
    assert.match(unsafePathReason("con.txt", "win32")!, /reserved on Windows/);
    assert.equal(unsafePathReason("a/b c/ünïcode.txt"), undefined);
    assert.match(unsafeSymlinkReason("a/l", "../../x")!, /outside the folder/);
    assert.match(unsafeSymlinkReason("l", "/etc")!, /absolute/);
    assert.match(unsafeSymlinkReason("l", ".git/config")!, /into "\.git"/);
    assert.equal(unsafeSymlinkReason("a/l", "../b/c"), undefined);
  });

  it("refuses each hostile entry with a clear reason, writes only the honest file, and never outside the folder", async () => {
    const dir = join(root, "victim");
    await LocalRepo.create(dir);
    const repo = await new LocalRepo(dir).open();
    // Straight into the object store: the git layer's fsck would refuse some of these at fetch already
    // (test/integration/e2e-hostile.test.ts); the checkout must stand on its own.
    const absolute = join(root, "pwned.txt");
    let shared = hostileCommit(repo.git.gitDir, { absolutePath: absolute, dotdot: true, dotgit: true, symlinkOut: true, longName: true });
    const remote: SyncRemote = {
      fetch: async () => new Map([["refs/heads/main", shared]]),
      push: async ([update]) => new Map([["refs/heads/main", (shared = update!.oid)]]),
    };
    const engine = new SyncEngine(repo, remote);
    const report = await engine.sync();
    const reasons = Object.fromEntries(report.refused.map((r) => [r.path, r.reason]));
    assert.match(reasons[absolute]!, /absolute path/);
    assert.match(reasons["../escaped.txt"]!, /"\.\." component/);
    assert.match(reasons[".git/hooks/post-commit"]!, /inside "\.git"/);
    assert.match(reasons["link-out"]!, /outside the folder/);
    assert.match(reasons["n".repeat(300)]!, /longer than 255 bytes/);
    assert.deepEqual(await snapshot(dir), { "ok.txt": "fine\n" });
    assert.deepEqual(await readdir(root), ["victim"], "nothing written next to the folder");
    assert.deepEqual(await readdir(join(dir, ".git/hooks")).then((h) => h.filter((n) => !n.endsWith(".sample"))), []);

    // The refused entries are left out of the folder for good: the next rounds neither write nor delete them.
    await writeFile(join(dir, "mine.txt"), "local\n");
    const next = await engine.sync();
    // Still listed, with the same reasons, while they are in the shared tree: every round, not only the first.
    assert.deepEqual(
      next.refused.map((r) => r.path).sort(),
      ["link-out", "n".repeat(300)],
      "what git's index keeps is listed again; what the next commit dropped is not",
    );
    assert.equal(next.refused.find((r) => r.path === "link-out")!.reason, reasons["link-out"]);
    const tree = execFileSync("git", ["ls-tree", "--name-only", shared], { env: { ...process.env, GIT_DIR: repo.git.gitDir } }).toString();
    assert.match(tree, /mine\.txt/);
    assert.match(tree, /link-out/, "an entry git can hold stays in the tree, just never on disk");
    assert.doesNotMatch(tree, /\.git|\.\./, "entries git's own index refuses are dropped by the next local commit");
  });
});

describe("a scan never looks through a symlinked folder", () => {
  let scratch: { path: string; remove(): Promise<void> };
  before(async () => {
    scratch = await tempDir("scan-through-link");
  });
  after(async () => scratch.remove());

  it("treats a path under a symlinked folder as not in the folder, even when asked for it by name", async () => {
    const outside = join(scratch.path, "outside");
    await mkdir(outside);
    await writeFile(join(outside, "id_rsa"), "secret\n");
    const dir = join(scratch.path, "folder");
    await LocalRepo.create(dir);
    const repo = await new LocalRepo(dir).open();
    await symlink(outside, join(dir, "ext"));
    // A watcher event or an earlier round can name such a path; it still is not a file of the folder.
    const { commit, scan } = await repo.commitChanges({ paths: ["ext/id_rsa"] });
    assert.equal(commit, undefined);
    assert.deepEqual([...scan.changes.keys()], []);
    // The link itself leads outside: not committed, and said so.
    const whole = await repo.commitChanges();
    assert.equal(whole.commit, undefined);
    assert.deepEqual(whole.scan.refused, [
      { path: "ext", reason: `the symlink points at the absolute path ${JSON.stringify(outside)}, outside the folder` },
    ]);
  });
});
