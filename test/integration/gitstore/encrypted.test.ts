import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdir } from "node:fs/promises";
import { join, resolve } from "node:path";
import { describe, it } from "node:test";
import { promisify } from "node:util";
import { compactRepository, fetchRefs, NativeGitEngine, push, readInfoPacks, takeCompactionLease } from "../../../gitstore/index.ts";
import {
  EncryptedStore,
  isEncryptedRepository,
  loadIdentity,
  newKeyring,
  repositoryStore,
  UndecryptableObject,
  writeKeyring,
  type MachineIdentity,
} from "../../../objectstore/index.ts";
import { runCompaction } from "../../../functions/compaction/compact.ts";
import { commitFile, git, GIT_ENV, importCommits, initRepo, snapshot } from "../../helpers/git.ts";
import { useGitCloud } from "../../helpers/git-cloud.ts";

const run = promisify(execFile);
const NODE = process.execPath;
const PUSHERS = 8;

/**
 * git over the bucket in an encrypted repository: the same push, fetch, compare-and-swap and compaction,
 * with every name and body sealed (docs/encryption.md).
 */
describe("git in an encrypted repository", () => {
  const bed = useGitCloud("git-encrypted");
  const { layout } = bed;
  let owner: MachineIdentity;
  let stranger: MachineIdentity;

  async function encryptedRepo(repo: string): Promise<EncryptedStore> {
    owner ??= (await loadIdentity({ create: true, path: join(bed.work, "owner.id") }))!;
    stranger ??= (await loadIdentity({ create: true, path: join(bed.work, "stranger.id") }))!;
    const { file } = await newKeyring(owner, "owner");
    await writeKeyring(bed.store, layout, repo, file, undefined);
    const store = await repositoryStore(bed.store, layout, repo, { machine: owner });
    assert.ok(store instanceof EncryptedStore);
    return store;
  }

  /** Every key and body under the repository's prefix, as the bucket holds them. */
  async function rawObjects(repo: string): Promise<Array<{ key: string; body: Buffer }>> {
    const out = [];
    for await (const info of bed.store.list(layout.repoRoot(repo))) {
      const object = await bed.store.get(info.key);
      assert.ok(object && object !== "not-modified");
      out.push({ key: info.key, body: object.body });
    }
    return out;
  }

  it("pushes and fetches through sealed names and bodies; plain git over HTTP cannot read it; the helper can, and refuses a machine without the key", async () => {
    const store = await encryptedRepo("secret");
    const a = await bed.clone("secret", store);
    const tip = await importCommits(a.dir, "main", 20, (i) => ({ [`tax-papers/return-${i}.txt`]: `income ${i}\n` }));
    await push({
      ...a,
      updates: [
        { ref: "refs/heads/main", oid: tip },
        { ref: "refs/heads/holiday-plans", oid: tip },
      ],
      remote: "cloud",
    });

    const b = await bed.clone("secret", store);
    const fetched = await fetchRefs(b);
    assert.equal(fetched.packsDownloaded, 1);
    assert.equal(await git(b.dir, "rev-parse", "refs/remotes/cloud/main"), tip);
    assert.equal(await git(b.dir, "rev-parse", "refs/remotes/cloud/holiday-plans"), tip);
    await git(b.dir, "fsck", "--strict", "--no-dangling");

    const objects = await rawObjects("secret");
    const packId = (await readInfoPacks(store, layout, "secret"))[0]!.slice("pack-".length);
    for (const { key, body } of objects) {
      for (const clear of ["holiday-plans", "main", packId, tip]) assert.ok(!key.includes(clear), `${key} names ${clear}`);
      assert.equal(body.subarray(0, 4).toString(), "CBE1", `${key} is sealed`);
      for (const clear of ["holiday-plans", "refs/heads", tip, "PACK", packId])
        assert.equal(body.indexOf(clear), -1, `${key} holds ${clear}`);
    }
    assert.ok(
      objects.some(({ key }) => key.endsWith("/info/refs")),
      "the refs index keeps its name, so the change function still sees refs move",
    );
    assert.equal(await isEncryptedRepository(bed.store, layout, "secret"), true);

    // Dumb HTTP is impossible by design: the bucket's info/refs and packs are ciphertext. git refuses a list
    // with a line that is not "<id><tab><ref>", or, when the ciphertext happens to hold no newline byte, finds
    // no ref at all: either way no commit arrives.
    const httpDir = bed.path("http");
    const http = await run("git", ["clone", "-q", `${bed.t.cloud.endpoint}/${bed.t.cloud.bucket}/repos/secret.git`, httpDir], {
      env: { ...process.env, ...GIT_ENV },
    }).then(
      () => "cloned",
      (error: { stderr: string }) => error.stderr,
    );
    if (http === "cloned") await assert.rejects(git(httpDir, "rev-parse", "--verify", "HEAD"), "a dumb-HTTP clone got no commit");

    // The remote helper reads it with this machine's key, and refuses in one line without one.
    const helperEnv = (identity: string) => ({
      ...process.env,
      ...bed.t.cloud.env,
      ...GIT_ENV,
      PATH: `${resolve("bin")}:${process.env.PATH}`,
      CLOUDBRIDGE_IDENTITY: identity,
    });
    const url = `cloudbridge::s3://${bed.t.cloud.bucket}/secret`;
    const viaHelper = bed.path("helper");
    await run("git", ["clone", "-q", url, viaHelper], { env: helperEnv(owner.path) });
    assert.equal(await git(viaHelper, "rev-parse", "HEAD"), tip);
    const refused = await run("git", ["clone", "-q", url, bed.path("stranger")], { env: helperEnv(stranger.path) }).then(
      () => "cloned",
      (error: { stderr: string }) => error.stderr,
    );
    const line = refused.split("\n").find((l) => l.startsWith("git-remote-cloudbridge:"));
    assert.match(
      line ?? refused,
      /is encrypted and this machine \(age1[0-9a-z]+\) holds no key for it: on a machine that syncs it, run `cloudbridge key add age1/,
    );
  });

  it("the helper and `compact` follow what the repository recorded: recorded encrypted with its key ring gone is refused, never read in clear; with no record the bucket decides", async () => {
    // A repository whose key ring is not in the bucket (deleted, or never there): in clear to anyone who reads it.
    const a = await bed.clone("recorded", bed.store);
    const tip = await commitFile(a.dir, "a.txt", "a\n");
    await push({ ...a, updates: [{ ref: "refs/heads/main", oid: tip }] });
    const env = { ...process.env, ...bed.t.cloud.env, ...GIT_ENV, PATH: `${resolve("bin")}:${process.env.PATH}` };
    const url = `cloudbridge::s3://${bed.t.cloud.bucket}/recorded`;
    const plain = bed.path("recorded-plain");
    await run("git", ["clone", "-q", url, plain], { env });
    assert.equal(await git(plain, "rev-parse", "HEAD"), tip, "no record: the bucket (no key ring) says clear");

    // The same clone, recorded encrypted (as `cloudbridge init --encrypt` or `clone` records it).
    await git(plain, "config", "cloudbridge.encrypted", "true");
    const refusal = /is encrypted, but its key ring .*keyring\.json is missing from the bucket: nothing is read or written in clear/;
    const fetched = await run("git", ["fetch", "-q", "origin"], { cwd: plain, env }).then(
      () => "fetched",
      (error: { stderr: string }) => error.stderr,
    );
    assert.match(fetched, refusal);
    await git(plain, "config", "cloudbridge.bucket", bed.t.cloud.bucket);
    await git(plain, "config", "cloudbridge.repo", "recorded");
    const compacted = await run(resolve("bin/cloudbridge"), ["compact"], { cwd: plain, env }).then(
      () => "compacted",
      (error: { stderr: string }) => error.stderr,
    );
    assert.match(compacted, refusal);
    await git(plain, "config", "cloudbridge.encrypted", "false");
    await run("git", ["fetch", "-q", "origin"], { cwd: plain, env });
  });

  it("a flipped bit in a sealed ref, pack or idx is refused with a clear error, and the local repository is unchanged", async () => {
    const store = await encryptedRepo("tamper");
    const a = await bed.clone("tamper", store);
    const first = await commitFile(a.dir, "a.txt", "a\n");
    await push({ ...a, updates: [{ ref: "refs/heads/main", oid: first }] });
    const b = await bed.clone("tamper", store);
    await fetchRefs(b);
    const before = (await rawObjects("tamper")).map(({ key }) => key);
    const second = await commitFile(a.dir, "b.txt", "b\n");
    await push({ ...a, updates: [{ ref: "refs/heads/main", oid: second }] });
    const added = (await rawObjects("tamper")).filter(({ key }) => !before.includes(key));
    const targets = [
      ...added.filter(({ key }) => key.endsWith(".pack") || key.endsWith(".idx")),
      ...(await rawObjects("tamper")).filter(({ key }) => key.endsWith("/info/refs")),
    ];
    assert.equal(targets.length, 3);
    for (const { key, body } of targets) {
      const state = await snapshot(b.gitDir);
      const flipped = Buffer.from(body);
      flipped[Math.floor(flipped.length / 2)]! ^= 0x10;
      await bed.store.put(key, flipped);
      await assert.rejects(fetchRefs(b), (error: Error) => {
        assert.match(error.message, /does not decrypt, chunk \d+ failed authentication/, key);
        return true;
      });
      assert.equal(await snapshot(b.gitDir), state, `nothing was written after ${key} was refused`);
      await bed.store.put(key, body);
    }
    await fetchRefs(b);
    assert.equal(await git(b.dir, "rev-parse", "refs/remotes/cloud/main"), second);
    await assert.rejects(
      store.get(layout.head("tamper")).then(async () => {
        const head = await bed.store.get(layout.head("tamper"));
        assert.ok(head && head !== "not-modified");
        const cut = head.body.subarray(0, head.body.length - 1);
        await bed.store.put(layout.head("tamper"), cut);
        return store.get(layout.head("tamper"));
      }),
      UndecryptableObject,
    );
  });

  it(`${PUSHERS} processes pushing to an encrypted repository at once lose nothing`, async () => {
    const store = await encryptedRepo("race");
    const origin = bed.path("origin");
    await mkdir(origin);
    const gitDir = await initRepo(origin);
    const base = await commitFile(origin, "README", "base\n");
    await push({ store, layout, repo: "race", gitDir, agent: randomUUID(), updates: [{ ref: "refs/heads/main", oid: base }] });
    const pushers = await Promise.all(
      Array.from({ length: PUSHERS }, async (_, i) => {
        const dir = bed.path("pusher");
        await git(bed.work, "clone", "-q", origin, dir);
        return { dir, oid: await commitFile(dir, `from-${i}.txt`, `pusher ${i}\n`), agent: randomUUID() };
      }),
    );
    const env = { ...process.env, ...bed.t.cloud.env, ...GIT_ENV, CLOUDBRIDGE_IDENTITY: owner.path };
    const outcomes = await Promise.all(
      pushers.map(async ({ dir, oid, agent }) => {
        const { stdout } = await run(
          NODE,
          [
            "--disable-warning=ExperimentalWarning",
            "test/helpers/push-worker.ts",
            bed.t.cloud.bucket,
            "race",
            join(dir, ".git"),
            agent,
            oid,
          ],
          { env },
        );
        return JSON.parse(stdout) as { results: { status: string }[] };
      }),
    );
    assert.deepEqual(outcomes.map((outcome) => outcome.results[0]!.status).sort(), [...Array(PUSHERS - 1).fill("merged"), "updated"]);
    const reader = await bed.clone("race", store);
    await fetchRefs(reader);
    for (const { oid } of pushers) await git(reader.dir, "merge-base", "--is-ancestor", oid, "refs/remotes/cloud/main");
    await git(reader.dir, "checkout", "-q", "-b", "main", "refs/remotes/cloud/main");
    for (let i = 0; i < PUSHERS; i++) assert.equal(await git(reader.dir, "show", `HEAD:from-${i}.txt`), `pusher ${i}`);
  });

  it("is compacted on a machine with the key (a fresh clone then downloads ≤ 2 packs); the compaction function skips it with a reason", async () => {
    const store = await encryptedRepo("packs");
    const a = await bed.clone("packs", store);
    await importCommits(a.dir, "main", 30, (i) => ({ [`notes/${i % 5}.txt`]: `note ${i}\n` }));
    // One pack per push, as an older cloudbridge leaves them (a push now folds small packs into its own).
    for (const oid of (await git(a.dir, "rev-list", "--reverse", "main")).split("\n"))
      await push({ ...a, updates: [{ ref: "refs/heads/main", oid }], foldPacks: false });
    assert.equal((await readInfoPacks(store, layout, "packs")).length, 30);

    const logged: unknown[] = [];
    const result = await runCompaction(
      { repos: ["packs"] },
      {
        repos: ["packs"],
        compact: () => assert.fail("an encrypted repository must not be compacted in the cloud"),
        isEncrypted: (repo) => isEncryptedRepository(bed.store, layout, repo),
        logger: { info: (...args: unknown[]) => void logged.push(args[0]), warn: () => undefined, error: () => undefined },
      },
    );
    assert.match(result.skipped[0] ?? "", /encrypted repository — no key is in the cloud/);
    assert.deepEqual(result.compacted, {});
    assert.ok(logged.includes("compaction skipped"), "the skip is logged with its reason");

    // The lease the daemons compact under: one holder at a time, taken over once expired or released.
    const lease = await takeCompactionLease(store, layout, "packs", "machine-1");
    assert.ok(lease);
    assert.equal(await takeCompactionLease(store, layout, "packs", "machine-2"), undefined);
    assert.ok(await takeCompactionLease(store, layout, "packs", "machine-2", { now: () => new Date(Date.now() + 11 * 60_000) }));
    await lease.release(); // the lease moved on: releasing it changes nothing
    assert.equal(await takeCompactionLease(store, layout, "packs", "machine-1"), undefined);

    const report = await compactRepository({ store, layout, repo: "packs", engine: new NativeGitEngine() });
    assert.equal(report.merged.length, 30);
    const fresh = await bed.clone("packs", store);
    const fetched = await fetchRefs(fresh);
    assert.ok(fetched.packsDownloaded <= 2, `downloaded ${fetched.packsDownloaded} packs`);
    await git(fresh.dir, "fsck", "--strict", "--no-dangling");
    assert.equal(await isEncryptedRepository(bed.store, layout, "clear-neighbour"), false);
  });
});
