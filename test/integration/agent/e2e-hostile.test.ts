import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { readdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, it } from "node:test";
import { fetchRefs, push } from "../../../gitstore/index.ts";
import { S3ObjectStore } from "../../../objectstore/s3-object-store.ts";
import { BucketLayout } from "../../../protocol/layout.ts";
import { cli, cliOk, waitUntil } from "../../helpers/agents.ts";
import { useAgentCloud } from "../../helpers/test-bed.ts";
import { exists, snapshot } from "../../helpers/folders.ts";
import { hostileCommit, type HostileEntries } from "../../helpers/hostile-tree.ts";

/**
 * Someone with write access to the bucket pushes a commit whose tree holds `..`, an absolute path,
 * `.git/hooks/…`, a symlink out of the folder or a name too long for this file system. Paths git itself
 * calls malformed are refused with the pack at fetch (git layer); the others are refused one by one at
 * checkout (sync engine). Either way: a clear message naming the path and the reason, nothing written
 * outside the folder, and a daemon that keeps running.
 */
describe("hostile content from the bucket", () => {
  const bed = useAgentCloud("e2e-hostile");

  /** A repository with one honest file and a running daemon, then the attacker's commit on top. */
  async function attacked(repo: string, entries: (root: string) => HostileEntries) {
    const env = bed.env;
    const url = `s3://cloudbridge/${repo}`;
    const root = bed.path(repo);
    const A = join(root, "a");
    await cliOk(["init", A, "--remote", url, "--listen", "poll", "--poll-interval", "1"], env);
    await writeFile(join(A, "honest.txt"), "honest\n");
    await cliOk(["sync", A], env);
    const daemon = await bed.daemon(A, ["--debounce", "50"]);
    const attacker = join(root, "attacker.git");
    execFileSync("git", ["init", "--quiet", "--bare", attacker]);
    const ctx = { store: new S3ObjectStore(bed.t.cloud.bucket, bed.t.s3), layout: new BucketLayout(""), repo, gitDir: attacker };
    const parent = (await fetchRefs(ctx)).refs.shared.get("refs/heads/main")!.oid;
    await push({
      ...ctx,
      agent: randomUUID(),
      updates: [{ ref: "refs/heads/main", oid: hostileCommit(attacker, entries(root), parent), onConflict: "force" }],
    });
    return { env, url, root, A, daemon };
  }

  it("refuses paths git calls malformed (.., absolute, .git) at fetch, writing nothing", async () => {
    const { env, url, root, A, daemon } = await attacked("malformed", (root) => ({
      absolutePath: join(root, "pwned.txt"),
      dotdot: true,
      dotgit: true,
    }));
    const B = join(root, "b");
    const joined = await cli(["clone", url, B], env);
    assert.notEqual(joined.code, 0);
    assert.match(joined.stderr, /refused by git/);
    assert.match(joined.stderr, /contains full pathnames/);
    assert.match(joined.stderr, /contains '\.\.'/);
    assert.match(joined.stderr, /contains '\.git'/);
    assert.match(joined.stderr, /Nothing was changed locally/);
    assert.deepEqual(await snapshot(B), {});

    const failed = await daemon.waitForEvent("sync.failed", 30_000);
    assert.match(String(failed.message), /refused by git/);
    assert.equal(daemon.process.exitCode, null, "the daemon keeps running");
    assert.deepEqual(await snapshot(A), { "honest.txt": "honest\n" });
    assert.equal(await exists(join(root, "pwned.txt")), false);
    assert.equal(await exists(join(root, "escaped.txt")), false);
    assert.deepEqual(
      (await readdir(join(A, ".git", "hooks"))).filter((n) => !n.endsWith(".sample")),
      [],
    );
  });

  it("refuses a symlink out of the folder and a name too long for this file system, one by one, and keeps syncing", async () => {
    const { env, url, root, A, daemon } = await attacked("unsafe", () => ({ symlinkOut: true, longName: true }));
    const B = join(root, "b");
    const joined = await cli(["clone", url, B], env);
    assert.equal(joined.code, 3, `the clone exits with the refused code, as sync does:\n${joined.stderr}`);
    assert.match(joined.stdout, /REFUSED "link-out" from the bucket: the symlink points at "[./]+tmp", outside the folder/);
    assert.match(joined.stdout, /REFUSED "n{300}" from the bucket: the name "n+…" is longer than 255 bytes/);
    // The attacker's tree replaced the whole folder (honest.txt deleted, ok.txt added): that much is a normal change.
    assert.deepEqual(await snapshot(B), { "ok.txt": "fine\n" });
    // Listed again at every sync while the shared tree holds them, not only at the one that met them.
    const again = await cli(["sync", B], env);
    assert.equal(again.code, 3, `a second sync lists them again: ${again.stderr}`);
    assert.match(again.stdout, /REFUSED "link-out" from the bucket/);
    assert.match(again.stdout, /REFUSED "n{300}" from the bucket/);

    await waitUntil(async () => (await exists(join(A, "ok.txt"))) || undefined, "the daemon to take the honest part", 30_000);
    // The files are written before the round logs what it refused: wait for the log lines too.
    const refusedPaths = () => daemon.events.filter((e) => e.event === "refused").map((e) => String(e.path));
    await waitUntil(() => refusedPaths().length >= 2 || undefined, "the daemon to log what it refused", 30_000);
    assert.deepEqual([...new Set(refusedPaths())].sort(), ["link-out", "n".repeat(300)]);
    assert.deepEqual(await snapshot(A), { "ok.txt": "fine\n" });

    await writeFile(join(B, "after.txt"), "still syncing\n");
    assert.equal((await cli(["sync", B], env)).code, 3, "still listed, and everything else syncs");
    await waitUntil(async () => (await exists(join(A, "after.txt"))) || undefined, "an honest change after the attack", 30_000);
    assert.deepEqual((await readdir(root)).sort(), ["a", "attacker.git", "b"], "nothing written next to the folders");
  });
});
