import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { mkdir, readdir, readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { deflateSync } from "node:zlib";
import { after, before, describe, it } from "node:test";
import { ReceiveMessageCommand } from "@aws-sdk/client-sqs";
import {
  EncryptedStore,
  loadIdentity,
  MissingRepositoryKey,
  readKeyring,
  S3ObjectStore,
  unlockKeyring,
  type RepositoryKeys,
} from "../../../objectstore/index.ts";
import { readInfoPacks } from "../../../gitstore/index.ts";
import { BucketLayout } from "../../../protocol/index.ts";
import { agentEnv, cli, cliOk, startDaemon, waitUntil, type Daemon } from "../../helpers/agents.ts";
import { exists } from "../../helpers/folders.ts";
import { git, tempDir } from "../../helpers/git.ts";
import { startTestCloud, subscribeQueue, type TestCloud } from "../../helpers/local-cloud.ts";

/**
 * An encrypted repository as two machines use it (docs/encryption.md): two daemons converge as in clear
 * mode, and afterwards nothing in the bucket or in the notifications names or holds a file in clear; a
 * tampered object is refused with nothing written; a machine without the key, or removed, reads nothing new.
 */
const DEBOUNCE = ["--debounce", "100", "--reconcile-interval", "600"];
const URL = "s3://cloudbridge/vault";
const BIG = 50 * 1024 * 1024;

/** Every file under `root` but .git, by path → sha256 (the 50 MiB file too). */
async function hashes(root: string, rel = ""): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const entry of await readdir(join(root, rel), { withFileTypes: true })) {
    if (entry.name === ".git" || entry.name.startsWith(".cloudbridge-tmp-")) continue;
    const path = rel ? `${rel}/${entry.name}` : entry.name;
    if (entry.isDirectory()) Object.assign(out, await hashes(root, path));
    else
      out[path] = createHash("sha256")
        .update(await readFile(join(root, path)))
        .digest("hex");
  }
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => (a < b ? -1 : 1)));
}

describe("an encrypted repository synced by two machines", () => {
  let scratch: { path: string; remove(): Promise<void> };
  let t: TestCloud;
  let spy: string;
  let A: string;
  let B: string;
  let envA: Record<string, string>;
  let envB: Record<string, string>;
  /** What the bucket must never show in clear: names and contents of every file the folder held. */
  const secrets = new Map<string, Buffer>();
  before(async () => {
    scratch = await tempDir("e2e-encrypted");
    t = await startTestCloud();
    spy = await subscribeQueue(t, "spy");
    A = join(scratch.path, "a");
    B = join(scratch.path, "b");
    envA = agentEnv(t.cloud.env, { CLOUDBRIDGE_IDENTITY: join(scratch.path, "alice.identity") });
    envB = agentEnv(t.cloud.env, { CLOUDBRIDGE_IDENTITY: join(scratch.path, "bob.identity") });
  });
  after(async () => {
    await t.stop();
    await scratch.remove();
  });

  async function put(root: string, path: string, content: Buffer | string): Promise<void> {
    const bytes = Buffer.from(content);
    await mkdir(join(root, path, ".."), { recursive: true });
    await writeFile(join(root, path), bytes);
    for (const part of path.split("/")) secrets.set(`name ${part}`, Buffer.from(part));
    remember(bytes, path);
  }

  function remember(bytes: Buffer, what: string): void {
    const sha256 = createHash("sha256").update(bytes).digest("hex");
    const blob = createHash("sha1").update(`blob ${bytes.length}\0`).update(bytes).digest();
    secrets.set(`sha256 of ${what}`, Buffer.from(sha256));
    secrets.set(`git blob id of ${what}`, Buffer.from(blob.toString("hex")));
    secrets.set(`git blob id (binary) of ${what}`, blob);
    if (bytes.length <= 4096) {
      secrets.set(`content of ${what}`, bytes);
      secrets.set(`deflated content of ${what}`, deflateSync(bytes));
    } else {
      for (const offset of [0, Math.floor(bytes.length / 2), bytes.length - 64])
        secrets.set(`bytes ${offset} of ${what}`, bytes.subarray(offset, offset + 64));
    }
  }

  /** Every secret found in `haystack`. */
  function leaks(haystack: Buffer): string[] {
    return [...secrets].filter(([, needle]) => haystack.includes(needle)).map(([what]) => what);
  }

  async function scanBucket(prefixes: string[]): Promise<{ objects: number; found: string[] }> {
    const store = new S3ObjectStore(t.cloud.bucket, t.s3);
    let objects = 0;
    const found: string[] = [];
    for (const prefix of prefixes) {
      for await (const info of store.list(prefix)) {
        objects++;
        const object = await store.get(info.key);
        const head = await store.head(info.key);
        assert.ok(object && object !== "not-modified");
        const seen = leaks(Buffer.concat([Buffer.from(info.key), Buffer.from(JSON.stringify(head?.metadata ?? {})), object.body]));
        found.push(...seen.map((what) => `${info.key}: ${what}`));
        if (!info.key.endsWith("/annex-uuid")) assert.equal(object.body.subarray(0, 4).toString(), "CBE1", `${info.key} is sealed`);
      }
    }
    return { objects, found };
  }

  let bobKeys: RepositoryKeys;

  it("two daemons converge (small files, a 50 MiB file, a rename, a conflict); then no object or notification holds a name or content in clear", async () => {
    await mkdir(A);
    await put(A, "tax-return-2025.txt", "income 183,442.17 — declared SECRET-ALPHA\n");
    await put(A, "medical/diagnosis-letter.md", "# Diagnosis\nSECRET-BRAVO: nothing to worry about.\n");
    // A bucket is format 3 (refs index) whether its repositories are clear or encrypted; the clear one still syncs beside the encrypted one.
    const marker = async () => {
      const object = await new S3ObjectStore(t.cloud.bucket, t.s3).get("cloudbridge.json");
      assert.ok(object && object !== "not-modified");
      return (JSON.parse(object.body.toString()) as { format: number }).format;
    };
    const plain = join(scratch.path, "plain");
    await mkdir(plain);
    await writeFile(join(plain, "hello.txt"), "hello\n");
    await cliOk(["init", plain, "--remote", "s3://cloudbridge/plain"], envA);
    assert.equal(await marker(), 3);
    await cliOk(["init", A, "--remote", URL, "--encrypt", "--topic-arn", t.cloud.topicArn, "--description", "alice laptop"], envA);
    assert.equal(await marker(), 3);
    await writeFile(join(plain, "again.txt"), "again\n");
    await cliOk(["sync", plain], envA);

    // A machine without the key is refused at clone, in one line, and nothing is written.
    const refused = await cli(["clone", URL, B, "--topic-arn", t.cloud.topicArn], envB);
    assert.equal(refused.code, 2, refused.stderr);
    assert.equal(refused.stderr.trimEnd().split("\n").length, 1, refused.stderr);
    assert.match(
      refused.stderr,
      /^cloudbridge: s3:\/\/cloudbridge\/repos\/vault\.git\/ is encrypted and this machine \(age1[a-z0-9]+\) holds no key for it: on a machine that syncs it, run `cloudbridge key add age1[a-z0-9]+`, then try again\.\n$/,
    );
    assert.equal(await exists(join(B, ".git")), false);

    const bob = (await cliOk(["key", "show"], envB)).stdout.trim();
    assert.match(bob, /^age1[a-z0-9]{58}$/);
    await cliOk(["key", "add", bob, A, "--label", "bob desktop"], envA);
    await cliOk(["clone", URL, B, "--topic-arn", t.cloud.topicArn, "--description", "bob desktop"], envB);
    const identity = (await loadIdentity({ path: join(scratch.path, "bob.identity") }))!;
    const layout = new BucketLayout();
    bobKeys = await unlockKeyring((await readKeyring(new S3ObjectStore(t.cloud.bucket, t.s3), layout, "vault"))!.file, identity, "vault");

    const daemons: Daemon[] = [];
    try {
      // Past 2 packs a daemon compacts the repository itself (no key is in the cloud to do it there).
      daemons.push(await startDaemon(A, envA, [...DEBOUNCE, "--listen", "sqs", "--compact-above", "2"]));
      daemons.push(await startDaemon(B, envB, [...DEBOUNCE, "--listen", "sqs", "--compact-above", "2"]));
      const big = randomBytes(BIG);
      await put(A, "videos/wedding-film.mkv", big);
      await put(A, "shopping-list.txt", "oat milk, SECRET-CHARLIE bread\n");
      await waitUntil(
        async () =>
          JSON.stringify(await hashes(B)) === JSON.stringify(await hashes(A)) && (await hashes(B))["videos/wedding-film.mkv"] !== undefined,
        "B has A's files, the 50 MiB film included",
        120_000,
        200,
      );
      await put(B, "from-bob/garden-plans.txt", "SECRET-DELTA: plant tomatoes\n");
      await waitUntil(async () => exists(join(A, "from-bob/garden-plans.txt")), "A has B's file", 60_000, 100);
      await rename(join(A, "tax-return-2025.txt"), join(A, "archive-2025-filed.txt"));
      secrets.set("name archive-2025-filed.txt", Buffer.from("archive-2025-filed.txt"));
      await waitUntil(
        async () => (await exists(join(B, "archive-2025-filed.txt"))) && !(await exists(join(B, "tax-return-2025.txt"))),
        "the rename reaches B",
        60_000,
        100,
      );
    } finally {
      for (const daemon of daemons) assert.equal(await daemon.stop(), 0, "the daemon stops cleanly");
    }
    // Agent-side compaction kept a fresh clone at ≤ 2 packs, and its lease is gone.
    const compactions = daemons.flatMap((daemon) => daemon.events.filter((event) => event.event === "compaction"));
    assert.ok(compactions.length > 0, "a daemon compacted the packs");
    const sealed = new EncryptedStore(new S3ObjectStore(t.cloud.bucket, t.s3), layout, "vault", bobKeys);
    const packs = await readInfoPacks(sealed, layout, "vault");
    assert.ok(packs.length <= 2, `a fresh clone would download ${packs.length} packs`);
    assert.equal(await sealed.head(layout.compactionLease("vault")), undefined);

    // A conflict: both edit the same file while apart; both versions survive on both sides.
    await put(A, "shopping-list.txt", "A's list SECRET-ECHO\n");
    await put(B, "shopping-list.txt", "B's list SECRET-FOXTROT\n");
    await cliOk(["sync", A], envA);
    await cliOk(["sync", B], envB);
    await cliOk(["sync", A], envA);
    const [a, b] = [await hashes(A), await hashes(B)];
    assert.deepEqual(a, b);
    const variants = Object.keys(a).filter((path) => path.startsWith("shopping-list.variant-"));
    assert.equal(variants.length, 1, Object.keys(a).join(", "));
    for (const variant of variants) secrets.set(`name ${variant}`, Buffer.from(variant));
    const lists = [await readFile(join(A, "shopping-list.txt"), "utf8"), await readFile(join(A, variants[0]!), "utf8")].sort();
    assert.deepEqual(lists, ["A's list SECRET-ECHO\n", "B's list SECRET-FOXTROT\n"]);

    // The bucket: every object of the repository, its name, metadata and body.
    const scan = await scanBucket(["repos/vault.git/", "annex/vault/", "agents/vault/"]);
    assert.ok(scan.objects > 10, `${scan.objects} objects scanned`);
    assert.deepEqual(scan.found, []);

    // The notifications the change function published for all of this.
    const messages: string[] = [];
    for (let empty = 0; empty < 2;) {
      const { Messages } = await t.sqs.send(new ReceiveMessageCommand({ QueueUrl: spy, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }));
      if (!Messages?.length) empty++;
      else messages.push(...Messages.map((message) => message.Body ?? ""));
    }
    assert.ok(messages.length > 5, `${messages.length} notifications captured`);
    assert.ok(
      messages.some((message) => message.includes('"kind":"content"')),
      "content notifications are still sent",
    );
    assert.deepEqual(leaks(Buffer.from(messages.join("\n"))), []);

    // The scan finds what a clear repository shows (so the emptiness above is a finding, not a blind spot).
    const C = join(scratch.path, "clear");
    await mkdir(C);
    const clearBig = randomBytes(2 * 1024 * 1024);
    await writeFile(join(C, "clear-film.mkv"), clearBig);
    await writeFile(join(C, "clear-note.txt"), "SECRET-GOLF\n");
    await cliOk(["init", C, "--remote", "s3://cloudbridge/clearvault"], envA);
    const before = new Map(secrets);
    secrets.clear();
    remember(clearBig, "clear-film.mkv");
    secrets.set("name clear-film.mkv", Buffer.from("clear-film.mkv"));
    secrets.set("name clear-note.txt", Buffer.from("clear-note.txt"));
    const store = new S3ObjectStore(t.cloud.bucket, t.s3);
    const found: string[] = [];
    for (const prefix of ["repos/clearvault.git/", "annex/clearvault/"])
      for await (const info of store.list(prefix)) {
        const object = await store.get(info.key);
        assert.ok(object && object !== "not-modified");
        found.push(
          ...leaks(
            Buffer.concat([Buffer.from(info.key), Buffer.from(JSON.stringify((await store.head(info.key))?.metadata ?? {})), object.body]),
          ),
        );
      }
    assert.ok(
      found.includes("sha256 of clear-film.mkv") && found.includes("bytes 0 of clear-film.mkv") && found.includes("name clear-film.mkv"),
      found.join(", "),
    );
    secrets.clear();
    for (const [what, needle] of before) secrets.set(what, needle);
  });

  it("a bit flipped in a sealed pack or annexed object is refused with a clear error and nothing is written", async () => {
    const store = new S3ObjectStore(t.cloud.bucket, t.s3);
    const keys = async () => {
      const out = new Map<string, string>();
      for await (const info of store.list("")) out.set(info.key, info.etag);
      return out;
    };
    const before = await keys();
    await put(A, "after/second-film.mkv", randomBytes(20 * 1024 * 1024));
    await put(A, "after/note.txt", "SECRET-HOTEL\n");
    await cliOk(["sync", A], envA);
    const added = [...(await keys()).keys()].filter((key) => !before.has(key));
    const pack = added.find((key) => key.endsWith(".pack"))!;
    const film = added.find((key) => key.startsWith("annex/vault/CBSIV--"))!;
    assert.ok(pack && film, added.join(", "));

    const flip = async (key: string, at: number) => {
      const object = await store.get(key);
      assert.ok(object && object !== "not-modified");
      const flipped = Buffer.from(object.body);
      flipped[at]! ^= 0x01;
      await store.put(key, flipped);
      return async () => void (await store.put(key, object.body));
    };
    const refsOf = async () => git(B, "for-each-ref", "--format=%(objectname) %(refname)");

    // The pack: the round stops before anything moves.
    let restore = await flip(pack, 40);
    const [files, refs] = [await hashes(B), await refsOf()];
    const refusedPack = await cli(["sync", B], envB);
    assert.notEqual(refusedPack.code, 0);
    assert.match(
      refusedPack.stderr,
      /Refused repos\/vault\.git\/objects\/pack\/pack-[0-9a-f]{40}\.pack: it does not decrypt, chunk 0 failed authentication/,
    );
    assert.deepEqual(await hashes(B), files);
    assert.equal(await refsOf(), refs);
    await restore();

    // The annexed film, in its 160th 64 KiB chunk: fetched by ranges, refused, never placed.
    restore = await flip(film, 32 + 160 * (65536 + 16) + 5);
    await cli(["sync", B], envB);
    const got = await cli(["get", "after/second-film.mkv"], envB, { cwd: B });
    assert.notEqual(got.code, 0);
    assert.match(got.stderr, /does not decrypt, chunk 160 failed authentication/);
    assert.notEqual((await hashes(B))["after/second-film.mkv"], (await hashes(A))["after/second-film.mkv"]);
    assert.deepEqual(await readdir(join(B, ".git/annex/tmp")).catch(() => []), []);
    await restore();
    const again = await cli(["get", "after/second-film.mkv"], envB, { cwd: B });
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual(await hashes(B), await hashes(A));
  });

  it("a key ring removed from the bucket makes no machine write in clear: the folder recorded that it is encrypted", async () => {
    const store = new S3ObjectStore(t.cloud.bucket, t.s3);
    const listed = async () => {
      const out: string[] = [];
      for await (const info of store.list("")) out.push(info.key);
      return out.sort();
    };
    const ring = (await listed()).find((key) => key.endsWith("keyring.json"))!;
    assert.ok(ring, "the repository's key ring is in the bucket");
    const kept = await store.get(ring);
    assert.ok(kept && kept !== "not-modified");
    await store.delete(ring);
    const before = await listed();
    await put(A, "after/while-the-ring-is-gone.txt", "SECRET-LIGHTHOUSE\n");
    const refused = await cli(["sync", A], envA);
    assert.equal(refused.code, 2, refused.stderr);
    assert.match(
      refused.stderr,
      /is encrypted, but its key ring .*keyring\.json is missing from the bucket: nothing is read or written in clear/,
    );
    assert.deepEqual(await listed(), before, "nothing was written");
    await store.put(ring, kept.body);
    const again = await cli(["sync", A], envA);
    assert.equal(again.code, 0, again.stderr);
  });

  it("a removed machine cannot read what is written after the rotation", async () => {
    const bob = (await cliOk(["key", "show"], envB)).stdout.trim();
    const removed = await cliOk(["key", "remove", bob, A], envA);
    assert.match(removed.stdout, /It can still read everything written before/);
    await put(A, "after-removal/new-salary.txt", "SECRET-INDIA\n");
    await cliOk(["sync", A], envA);

    const refused = await cli(["sync", B], envB);
    assert.equal(refused.code, 2, refused.stderr);
    assert.match(refused.stderr, /is encrypted and this machine \(age1[a-z0-9]+\) holds no key for it/);
    assert.equal(await exists(join(B, "after-removal")), false);
    // Even with every key it was ever given, it cannot open what was sealed after the rotation.
    const layout = new BucketLayout();
    const raw = new S3ObjectStore(t.cloud.bucket, t.s3);
    const withOldKeys = new EncryptedStore(raw, layout, "vault", bobKeys);
    await assert.rejects(withOldKeys.get(layout.infoRefs("vault")), MissingRepositoryKey);
    const scan = await scanBucket(["repos/vault.git/", "annex/vault/", "agents/vault/"]);
    assert.deepEqual(scan.found, []);
  });
});
