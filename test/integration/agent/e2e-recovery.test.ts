import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdir, readdir, readFile, rm, statfs, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { after, before, describe, it } from "node:test";
import { ListObjectsV2Command } from "@aws-sdk/client-s3";
import { DEFAULT_MULTIPART_THRESHOLD, DEFAULT_PART_SIZE } from "../../../annex/transfer/transfer-settings.ts";
import { SINGLE_PUT_LIMIT } from "../../../gitstore/bucket-packs.ts";
import { RETRY_CAP_MS } from "../../../agent/backoff.ts";
import { agentEnv, cliOk, startDaemon, waitUntil, type Daemon } from "../../helpers/agents.ts";
import { startFaultProxy, type FaultProxy, type FaultProxyOptions } from "../../helpers/fault-proxy.ts";
import { tempDir } from "../../helpers/git.ts";
import { startTestCloud, type TestCloud } from "../../helpers/local-cloud.ts";
import { inHistory, versionOf } from "../../helpers/versions.ts";

/**
 * What a machine does once a passing trouble has passed: after a network outage, the work done meanwhile
 * reaches the other machine within a bounded time of the network's return (retry waits are capped and
 * reset); after the disk was full, the download that failed for want of space is retried once there is
 * space again, not at the next reconcile.
 */
const OUTAGE_MS = 35_000;
// The daemon's next retry comes at most RETRY_CAP_MS after the network returns, plus a round on each side.
const CROSS_BOUND_MS = 20_000;
// A silent connection is given up after the SDK's idle timeout (30 s), then retried at once.
const SILENT_MS = 10_000;
const SILENT_BOUND_MS = 45_000;
const FLAGS = ["--listen", "sqs", "--reconcile-interval", "600", "--debounce", "50"];

describe("recovery after an outage and after a full disk", () => {
  let scratch: { path: string; remove(): Promise<void> };
  let t: TestCloud;
  const daemons: Daemon[] = [];
  const proxies: FaultProxy[] = [];
  const mounts: string[] = [];
  before(async () => {
    scratch = await tempDir("e2e-recovery");
    t = await startTestCloud();
  });
  after(async () => {
    for (const d of daemons) await d.stop();
    for (const p of proxies) await p.stop();
    for (const m of mounts) execFileSync("umount", [m]);
    await t.stop();
    await scratch.remove();
  });

  /** Two folders of one repository (A made, B cloned), reaching the cloud through a fault proxy of their own. */
  const twoFolders = async (repo: string, faults: Omit<FaultProxyOptions, "target">) => {
    const proxy = await startFaultProxy({ target: t.cloud.endpoint, ...faults });
    proxies.push(proxy);
    const env = agentEnv(t.cloud.env, { AWS_ENDPOINT_URL: proxy.endpoint });
    const url = `s3://cloudbridge/${repo}`;
    const A = join(scratch.path, `${repo}-a`);
    const B = join(scratch.path, `${repo}-b`);
    await cliOk(["init", A, "--remote", url, "--topic-arn", t.cloud.topicArn], env);
    await cliOk(["clone", url, B, "--topic-arn", t.cloud.topicArn], env);
    return { proxy, env, A, B };
  };

  /** Stops `daemon` while the network is silent: it exits, cleanly, without waiting on it (the time is printed). */
  const stopsPromptly = async (daemon: Daemon, during: string) => {
    const asked = Date.now();
    const stopped = await Promise.race([daemon.stop(), sleep(60_000).then(() => "still running")]);
    process.stderr.write(`# a stop ${during} over a silent network took ${Date.now() - asked} ms\n`);
    assert.equal(stopped, 0, `the daemon stops, cleanly, ${during}, while the network does not answer`);
  };

  /** Waits for `file` to hold `content`. */
  const holds = (file: string, content: Buffer) =>
    waitUntil(async () => (await readFile(file).catch(() => undefined))?.equals(content), `${file}'s content`, 120_000, 200);

  /** A change made on A during an outage of `outageMs` must reach B within `boundMs` of the network's return. */
  const outage = async (mode: "reset" | "blackhole", repo: string, outageMs: number, boundMs: number) => {
    const { proxy, env, A, B } = await twoFolders(repo, { seed: 1 });
    const a = await startDaemon(A, env, FLAGS);
    const b = await startDaemon(B, env, FLAGS);
    daemons.push(a, b);
    const arrived = (name: string, text: string) => async () => (await readFile(join(B, name), "utf8").catch(() => undefined)) === text;
    await writeFile(join(A, "before.txt"), "before\n");
    await waitUntil(arrived("before.txt", "before\n"), "before.txt on B", 30_000, 50);

    proxy.setDown(mode);
    const down = Date.now();
    await sleep(1000);
    await writeFile(join(A, "during.txt"), "written during the outage\n");
    const version = versionOf("during.txt", Buffer.from("written during the outage\n"), false);
    await waitUntil(() => inHistory(A, "main", version.blob) || undefined, "during.txt committed on A", 30_000, 50);
    await sleep(Math.max(0, down + outageMs - Date.now()));
    proxy.setDown(false);
    const healed = Date.now();
    await waitUntil(arrived("during.txt", "written during the outage\n"), "during.txt on B after the outage", 120_000, 50);
    const crossed = Date.now() - healed;

    const waits = a.events.filter((e) => e.event === "sync.failed").map((e) => Number(e.retryInMs));
    process.stderr.write(
      `# ${mode} outage ${outageMs / 1000} s: crossed ${crossed} ms after the network returned; A's retry waits ${waits.join(", ")} ms\n`,
    );
    assert.ok(
      waits.every((w) => w <= RETRY_CAP_MS),
      `every retry wait is at most ${RETRY_CAP_MS} ms: ${waits.join(", ")}`,
    );
    assert.ok(crossed < boundMs, `during.txt crossed ${crossed} ms after the network returned (bound ${boundMs} ms)`);
    return waits;
  };

  it(`after a ${OUTAGE_MS / 1000} s outage, a change made during it crosses within ${CROSS_BOUND_MS / 1000} s of the network's return`, async () => {
    const waits = await outage("reset", "outage", OUTAGE_MS, CROSS_BOUND_MS);
    assert.ok(waits.length > 0, "A's rounds failed during the outage");
  });

  it(`after requests were left unanswered for ${SILENT_MS / 1000} s, a change made meanwhile crosses within ${SILENT_BOUND_MS / 1000} s of the network's return`, async () => {
    await outage("blackhole", "silent", SILENT_MS, SILENT_BOUND_MS);
  });

  it("while a round waits on a network that does not answer, a person's edits are still committed, every version kept, and a stop does not wait on it", async () => {
    const { proxy, env, A, B } = await twoFolders("waiting", { seed: 3 });
    const a = await startDaemon(A, env, FLAGS);
    daemons.push(a, await startDaemon(B, env, FLAGS));

    // Requests go unanswered: A's round for the first version commits it, then waits on the bucket (the
    // SDK gives a silent request up after its idle timeout, and tries again: minutes in all).
    proxy.setDown("blackhole");
    const versions = [1, 2, 3].map((n) => Buffer.from(`notes, version ${n}\n`));
    for (const content of versions) {
      await writeFile(join(A, "notes.txt"), content);
      const { blob } = versionOf("notes.txt", content, false);
      await waitUntil(() => inHistory(A, "main", blob) || undefined, `version ${content.toString().trim()} committed on A`, 60_000, 50);
      // Committed beside the round that waits, not after it gave up: the next version overwrites this one.
      assert.deepEqual(
        a.events.filter((e) => e.event === "sync.failed" || e.event === "push"),
        [],
        "the round that met the silent network is still waiting",
      );
    }
    // Asked to stop meanwhile, A does not wait on the silent network for minutes: past a grace the round's
    // requests are cut (a network failure to it), and a restart publishes what it had committed.
    await stopsPromptly(a, "while a round waits");
    assert.ok(a.events.some((e) => e.event === "daemon.stop-cut"));
    proxy.setDown(false);
    daemons.push(await startDaemon(A, env, FLAGS));
    await holds(join(B, "notes.txt"), versions[2]!);
    for (const content of versions)
      assert.ok(inHistory(B, "main", versionOf("notes.txt", content, false).blob), `${content.toString().trim()} in B's history`);
  });

  it("a stop while the network is silent and no round runs does not wait on the network either", async () => {
    const { proxy, env, A } = await twoFolders("idle-stop", { seed: 5 });
    const a = await startDaemon(A, env, FLAGS);
    daemons.push(a);
    proxy.setDown("blackhole");
    await sleep(1000);
    await stopsPromptly(a, "with no round running");
  });

  it("a stop while a large file uploads in parts over a network that went silent does not wait on it, and the next start finishes that upload", async () => {
    const content = randomBytes(DEFAULT_MULTIPART_THRESHOLD + 8 * 1024 * 1024);
    const hex = createHash("sha256").update(content).digest("hex");
    // Two of the file's parts reach the bucket (each part is a PUT of its key), then nothing does: the
    // network goes silent mid-upload.
    const silence: { proxy?: FaultProxy } = {};
    const partPuts: string[] = [];
    const { proxy, env, A, B } = await twoFolders("multipart", {
      seed: 4,
      script: (method, path, n) => {
        if (method !== "PUT" || !path.includes(hex)) return undefined;
        partPuts.push(path);
        if (n === 1) silence.proxy?.setDown("blackhole");
        return undefined;
      },
    });
    silence.proxy = proxy;
    const a = await startDaemon(A, env, FLAGS);
    daemons.push(a, await startDaemon(B, env, FLAGS));

    await writeFile(join(A, "video.bin"), content);
    await waitUntil(() => partPuts.length >= 2 || undefined, "two parts sent", 60_000, 20);
    await stopsPromptly(a, "during a multipart upload");
    // Nothing under the content's key: an object appears there only whole (CompleteMultipartUpload).
    const listed = await t.s3.send(new ListObjectsV2Command({ Bucket: t.cloud.bucket, Prefix: "annex/multipart/" }));
    assert.deepEqual(
      (listed.Contents ?? []).filter((o) => o.Key?.includes(hex)),
      [],
      "no object under the content's key",
    );
    const record = join(A, ".git", "annex", "cloudbridge", "uploads");
    assert.ok(
      (await readdir(record)).some((name) => name.includes(hex)),
      "the upload's record is kept for the next start",
    );

    // The next start resumes that upload: the parts the bucket has are not sent again.
    proxy.setDown(false);
    const before = partPuts.length;
    daemons.push(await startDaemon(A, env, FLAGS));
    await holds(join(B, "video.bin"), content);
    const partCount = Math.ceil(content.length / DEFAULT_PART_SIZE);
    assert.ok(partPuts.length - before < partCount, `the upload resumed: ${partPuts.length - before} of ${partCount} parts sent again`);
    assert.deepEqual(
      (await readdir(record)).filter((name) => name.includes(hex)),
      [],
      "no upload record is left once the content is in the bucket",
    );
  });

  it("a stop while a large file downloads over a network that went silent does not wait on it, and the next start finishes that download", async () => {
    const content = randomBytes(DEFAULT_MULTIPART_THRESHOLD + 8 * 1024 * 1024);
    const hex = createHash("sha256").update(content).digest("hex");
    // The first range of the file reaches B, then nothing does.
    const silence: { proxy?: FaultProxy } = {};
    const { proxy, env, A, B } = await twoFolders("download", {
      seed: 7,
      script: (method, path, n) => {
        if (method === "GET" && path.includes(hex) && n === 0) silence.proxy?.setDown("blackhole");
        return undefined;
      },
    });
    silence.proxy = proxy;
    daemons.push(await startDaemon(A, env, FLAGS));
    const b = await startDaemon(B, env, FLAGS);
    daemons.push(b);
    await writeFile(join(A, "video.bin"), content);
    await waitUntil(() => proxy.counts.outage > 0 || undefined, "B's download sent into the silence", 120_000, 20);
    await stopsPromptly(b, "during a download");
    proxy.setDown(false);
    daemons.push(await startDaemon(B, env, FLAGS));
    await holds(join(B, "video.bin"), content);
  });

  it("a stop while a large pack uploads in parts over a network that went silent does not wait on it", async () => {
    // One part of the pack reaches the bucket, then nothing does.
    const silence: { proxy?: FaultProxy } = {};
    const { proxy, env, A } = await twoFolders("pack", {
      seed: 6,
      script: (method, path, n) => {
        if (method === "PUT" && path.endsWith(".pack") && n === 0) silence.proxy?.setDown("blackhole");
        return undefined;
      },
    });
    silence.proxy = proxy;
    // A file this machine keeps in git, large enough that its pack goes up in parts.
    execFileSync("git", ["config", "cloudbridge.largefiles.minsize", "1g"], { env: { ...process.env, GIT_DIR: join(A, ".git") } });
    const a = await startDaemon(A, env, FLAGS);
    daemons.push(a);
    await writeFile(join(A, "data.bin"), randomBytes(SINGLE_PUT_LIMIT + 4 * 1024 * 1024));
    await waitUntil(() => proxy.counts.outage > 0 || undefined, "the pack's second part sent into the silence", 60_000, 20);
    await stopsPromptly(a, "during a large pack's upload");
  });

  it("an upload that failed while the commit naming it was pushed is retried without waiting for another commit", async () => {
    // Only requests for annexed content fail: the commit goes through, its content does not.
    const { proxy, env, A, B } = await twoFolders("upload", { seed: 2, exempt: (_method, path) => !path.includes("/annex/") });
    for (const dir of [A, B])
      execFileSync("git", ["config", "cloudbridge.largefiles.minsize", "64k"], { env: { ...process.env, GIT_DIR: join(dir, ".git") } });
    const a = await startDaemon(A, env, FLAGS);
    daemons.push(a, await startDaemon(B, env, FLAGS));

    proxy.setRates({ resetBefore: 1 });
    const content = randomBytes(256 * 1024);
    await writeFile(join(A, "big.bin"), content);
    await waitUntil(() => a.events.find((e) => e.event === "upload.failed"), "A's upload failing", 120_000, 50);
    await waitUntil(
      async () => (await readFile(join(B, "big.bin"), "utf8").catch(() => ""))?.startsWith("/annex/objects/"),
      "the pointer on B",
      30_000,
      50,
    );
    proxy.setRates({});
    await assertArrives(join(B, "big.bin"), content, "after the network returned");
  });

  it("a download that failed on a full disk is retried as soon as there is space again", async () => {
    // B's folder lives on a small file system of its own, as on a machine whose disk filled up.
    const small = join(scratch.path, "small");
    await mkdir(small);
    try {
      execFileSync("mount", ["-t", "tmpfs", "-o", "size=8m", "tmpfs", small], { stdio: "pipe" });
    } catch (error) {
      throw new Error(`this test mounts a small tmpfs and needs root (CAP_SYS_ADMIN): ${(error as Error).message}`, { cause: error });
    }
    mounts.push(small);
    const env = agentEnv(t.cloud.env);
    // One disk for everything on B, its temporary files included, as on a machine whose only disk is full.
    await mkdir(join(small, "tmp"));
    const envB = agentEnv(t.cloud.env, { TMPDIR: join(small, "tmp") });
    const url = "s3://cloudbridge/diskfull";
    const A = join(scratch.path, "diskfull-a");
    const B = join(small, "b");
    await cliOk(["init", A, "--remote", url, "--topic-arn", t.cloud.topicArn], env);
    await cliOk(["clone", url, B, "--topic-arn", t.cloud.topicArn], envB);
    for (const dir of [A, B])
      execFileSync("git", ["config", "cloudbridge.largefiles.minsize", "64k"], { env: { ...process.env, GIT_DIR: join(dir, ".git") } });
    const a = await startDaemon(A, env, FLAGS);
    const b = await startDaemon(B, envB, FLAGS);
    daemons.push(a, b);

    // Fill the file system (outside the folder) but for 256 KiB: room for git's objects, not for the content.
    const { bavail, bsize } = await statfs(small);
    const filler = join(small, "filler");
    await writeFile(filler, Buffer.alloc(Math.max(0, bavail * bsize - 256 * 1024)));
    const content = randomBytes(2 * 1024 * 1024);
    await writeFile(join(A, "big.bin"), content);
    const failed = await waitUntil(
      () => b.events.find((e) => e.event === "download.failed" && /ENOSPC|no space/i.test(String(e.message))),
      "B's download failing for want of space",
      60_000,
      50,
    );
    assert.ok(failed);
    assert.match(await readFile(join(B, "big.bin"), "utf8"), /^\/annex\/objects\//, "B has the pointer, not the content");

    await rm(filler);
    await assertArrives(join(B, "big.bin"), content, "after space returned");
  });
});

/** Waits for `file` to hold `content`, and asserts it did within CROSS_BOUND_MS of now (printing the figure). */
async function assertArrives(file: string, content: Buffer, since: string): Promise<void> {
  const start = Date.now();
  await waitUntil(async () => (await readFile(file).catch(() => undefined))?.equals(content), `${file}'s content ${since}`, 60_000, 100);
  const arrived = Date.now() - start;
  process.stderr.write(`# ${file}: content arrived ${arrived} ms ${since}\n`);
  assert.ok(arrived < CROSS_BOUND_MS, `the content arrived ${arrived} ms ${since} (bound ${CROSS_BOUND_MS} ms)`);
}
