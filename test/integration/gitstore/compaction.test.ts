import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { describe, it } from "node:test";
import { promisify } from "node:util";
import type { ObjectStore } from "../../../objectstore/object-store.ts";

import { compactRepository, fetchRefs, NativeGitEngine, push, readInfoPacks, writeInfoPacks } from "../../../gitstore/index.ts";
import { IsomorphicGitEngine } from "../../../gitstore/isomorphic-engine.ts";
import { FaultyStore } from "../../helpers/faulty-store.ts";
import { commitFile, git, GIT_ENV, importCommits } from "../../helpers/git.ts";
import { useGitCloud } from "../../helpers/git-cloud.ts";

const run = promisify(execFile);
const GRACE = 60_000;
const CLI = resolve("bin/cloudbridge");

describe("compaction of a repository's packs", () => {
  const bed = useGitCloud("git-compaction");
  const { clone, layout } = bed;

  async function packKeys(repo: string): Promise<string[]> {
    const keys: string[] = [];
    for await (const info of bed.store.list(layout.packsRoot(repo))) keys.push(info.key);
    return keys;
  }

  /** A repository of `commits` commits on main, each pushed alone (a pack each). */
  async function pushedOneByOne(repo: string, commits: number) {
    const a = await clone(repo);
    await importCommits(a.dir, "main", commits, (i) => ({ [`f${i}`]: `${i}\n` }));
    for (const oid of (await git(a.dir, "rev-list", "--reverse", "main")).split("\n"))
      await push({ ...a, updates: [{ ref: "refs/heads/main", oid }] });
    return a;
  }

  const compactNow = (repo: string) => compactRepository({ store: bed.store, layout, repo, engine: new NativeGitEngine(), graceMs: GRACE });

  /** How many commits main has for a fresh clone of `repo`. */
  async function commitsInFreshClone(repo: string): Promise<string> {
    const fresh = await clone(repo);
    await fetchRefs(fresh);
    return git(fresh.dir, "rev-list", "--count", "refs/remotes/cloud/main");
  }

  it("after 200 pushes and one compaction a fresh clone downloads one pack; retired packs stay readable through the grace period", async () => {
    const a = await clone("many");
    await importCommits(a.dir, "main", 200, (i) => ({ [`notes/${i % 10}.txt`]: `note ${i}\n` }));
    const commits = (await git(a.dir, "rev-list", "--reverse", "main")).split("\n");
    // One pack per push, as an older cloudbridge leaves them (a push now folds small packs into its own).
    for (const oid of commits) await push({ ...a, updates: [{ ref: "refs/heads/main", oid }], foldPacks: false });
    const before = await readInfoPacks(bed.store, layout, "many");
    assert.equal(before.length, 200);

    const start = new Date();
    const report = await compactRepository({
      store: bed.store,
      layout,
      repo: "many",
      engine: new NativeGitEngine(),
      graceMs: GRACE,
      now: () => start,
    });
    assert.equal(report.merged.length, 200);
    assert.equal(report.retired.length, 200);
    assert.deepEqual(report.deleted, []);
    assert.deepEqual(await readInfoPacks(bed.store, layout, "many"), [report.published]);

    const fresh = await clone("many");
    const fetched = await fetchRefs(fresh);
    assert.ok(fetched.packsDownloaded <= 2, `downloaded ${fetched.packsDownloaded} packs`);
    assert.equal(await git(fresh.dir, "rev-parse", "refs/remotes/cloud/main"), commits.at(-1));
    await git(fresh.dir, "fsck", "--strict", "--no-dangling");

    // A reader that read objects/info/packs just before compaction still finds every pack it listed.
    /** A store whose first `reads` reads of objects/info/packs return the list as it was before compaction. */
    const staleFor = (reads: number): ObjectStore =>
      Object.assign(Object.create(bed.store) as ObjectStore, {
        get: async (key: string, options?: { ifNoneMatch?: string }) => {
          const result = await bed.store.get(key, options);
          return key === layout.infoPacks("many") && result && result !== "not-modified" && reads-- > 0
            ? { ...result, body: Buffer.from(writeInfoPacks(before)) }
            : result;
        },
      });
    const slowReader = await clone("many", staleFor(Infinity));
    assert.equal((await fetchRefs(slowReader)).packsDownloaded, 200);
    await git(slowReader.dir, "fsck", "--strict", "--no-dangling");

    // Within the grace period nothing is deleted; after it, the retired packs go.
    const early = await compactRepository({
      store: bed.store,
      layout,
      repo: "many",
      engine: new NativeGitEngine(),
      graceMs: GRACE,
      now: () => new Date(start.getTime() + GRACE / 2),
    });
    assert.deepEqual(early.deleted, []);
    assert.equal((await packKeys("many")).length, 2 * 201);
    const late = await compactRepository({
      store: bed.store,
      layout,
      repo: "many",
      engine: new NativeGitEngine(),
      graceMs: GRACE,
      now: () => new Date(start.getTime() + GRACE),
    });
    assert.equal(late.deleted.length, 200);
    assert.deepEqual(await packKeys("many"), [
      `${layout.packsRoot("many")}${report.published}.idx`,
      `${layout.packsRoot("many")}${report.published}.pack`,
    ]);
    // A reader that listed the packs just before they were deleted reads the list again, once.
    const unluckyReader = await clone("many", staleFor(1));
    assert.equal((await fetchRefs(unluckyReader)).packsDownloaded, 1);
    const plain = bed.path("plain");
    await git(bed.work, "clone", "-q", `${bed.t.cloud.endpoint}/${bed.t.cloud.bucket}/repos/many.git`, plain);
    assert.equal(await git(plain, "rev-list", "--count", "HEAD"), "200");
  });

  it("keeps a pack a concurrent push listed while compaction ran", async () => {
    const a = await clone("racing");
    await importCommits(a.dir, "main", 3, (i) => ({ [`f${i}`]: `${i}\n` }));
    for (const oid of (await git(a.dir, "rev-list", "--reverse", "main")).split("\n"))
      await push({ ...a, updates: [{ ref: "refs/heads/main", oid }] });
    await git(a.dir, "checkout", "-q", "main");
    let pushed: string | undefined;
    // Just before compaction swaps objects/info/packs, another push lands.
    const racing: ObjectStore = Object.assign(Object.create(bed.store) as ObjectStore, {
      put: async (key: string, body: Buffer | string, options?: object) => {
        if (key === layout.infoPacks("racing") && !pushed) {
          pushed = await commitFile(a.dir, "late.txt", "late\n");
          await push({ ...a, updates: [{ ref: "refs/heads/main", oid: pushed }] });
        }
        return bed.store.put(key, body, options);
      },
    });
    const report = await compactRepository({ store: racing, layout, repo: "racing", engine: new NativeGitEngine(), graceMs: GRACE });
    assert.equal(report.merged.length, 3);
    const live = await readInfoPacks(bed.store, layout, "racing");
    assert.equal(live.length, 2, "the compacted pack and the concurrent push's pack");
    const fresh = await clone("racing");
    await fetchRefs(fresh);
    assert.equal(await git(fresh.dir, "rev-parse", "refs/remotes/cloud/main"), pushed);
  });

  it("a reader's record of the packs it downloaded keeps the packs the bucket lists, not every push it ever fetched, and still spares it a pack it repacked", async () => {
    const a = await clone("seen");
    const b = await clone("seen");
    await importCommits(a.dir, "main", 12, (i) => ({ [`f${i}`]: `${i}\n` }));
    for (const oid of (await git(a.dir, "rev-list", "--reverse", "main")).split("\n")) {
      await push({ ...a, updates: [{ ref: "refs/heads/main", oid }], foldPacks: false });
      await fetchRefs(b);
    }
    const seen = async () => (await readFile(join(b.gitDir, "cloudbridge", "packs-seen"), "utf8")).split("\n").filter(Boolean).sort();
    assert.deepEqual(await seen(), [...(await readInfoPacks(bed.store, layout, "seen"))].sort());
    // Compaction retires all 12; the next packs recorded leave them out.
    await compactRepository({ store: bed.store, layout, repo: "seen", engine: new NativeGitEngine(), graceMs: GRACE });
    await git(a.dir, "checkout", "-q", "main");
    await push({ ...a, updates: [{ ref: "refs/heads/main", oid: await commitFile(a.dir, "late.txt", "late\n") }] });
    await fetchRefs(b);
    const live = await readInfoPacks(bed.store, layout, "seen");
    assert.equal(live.length, 2, "the compacted pack and the late push's");
    assert.deepEqual(await seen(), [...live].sort());
    // What the record is for: git gc packs the fetched packs into one of its own, and a fetch downloads only what is new.
    await git(b.dir, "gc", "-q");
    await push({ ...a, updates: [{ ref: "refs/heads/main", oid: await commitFile(a.dir, "later.txt", "later\n") }] });
    assert.equal((await fetchRefs(b)).packsDownloaded, 1);
    assert.equal(await git(b.dir, "rev-parse", "refs/remotes/cloud/main"), await git(a.dir, "rev-parse", "HEAD"));
    assert.equal((await seen()).length, 3);
  });

  it("retires a pack an interrupted push never listed, and deletes it after the grace period", async () => {
    const a = await clone("orphans");
    const first = await commitFile(a.dir, "a", "a\n");
    await push({ ...a, updates: [{ ref: "refs/heads/main", oid: first }] });
    const second = await commitFile(a.dir, "b", "b\n");
    await assert.rejects(
      push({
        ...a,
        store: new FaultyStore(bed.store, (key) => key.endsWith("objects/info/packs")),
        updates: [{ ref: "refs/heads/main", oid: second }],
      }),
    );
    assert.equal((await packKeys("orphans")).length, 4);
    const later = Date.now() + GRACE;
    const retire = await compactRepository({
      store: bed.store,
      layout,
      repo: "orphans",
      engine: new NativeGitEngine(),
      graceMs: GRACE,
      now: () => new Date(later),
    });
    assert.equal(retire.retired.length, 1);
    assert.equal(retire.published, undefined, "one live pack: nothing to merge");
    const remove = await compactRepository({
      store: bed.store,
      layout,
      repo: "orphans",
      engine: new NativeGitEngine(),
      graceMs: GRACE,
      now: () => new Date(later + GRACE),
    });
    assert.deepEqual(remove.deleted, retire.retired);
    assert.equal((await packKeys("orphans")).length, 2);
  });

  it("repairs a pack whose idx went missing: compaction indexes it itself", async () => {
    const a = await clone("no-idx");
    await importCommits(a.dir, "main", 3, (i) => ({ [`f${i}`]: `${i}\n` }));
    for (const oid of (await git(a.dir, "rev-list", "--reverse", "main")).split("\n")) {
      await push({ ...a, updates: [{ ref: "refs/heads/main", oid }] });
    }
    const [, second] = await readInfoPacks(bed.store, layout, "no-idx");
    await bed.store.delete(layout.pack("no-idx", `${second}.idx`));
    await assert.rejects(fetchRefs(await clone("no-idx")), /has no index.*cloudbridge compact/);
    const report = await compactRepository({ store: bed.store, layout, repo: "no-idx", engine: new NativeGitEngine(), graceMs: GRACE });
    assert.equal(report.merged.length, 3);
    const fresh = await clone("no-idx");
    assert.equal((await fetchRefs(fresh)).packsDownloaded, 1);
    assert.equal(await git(fresh.dir, "rev-list", "--count", "refs/remotes/cloud/main"), "3");
  });

  it("rewrites a pack list holding lines that name no pack (`..`, `.git/`, an absolute path), as the readers' error says it does: every pack is listed again, nothing lost", async () => {
    await pushedOneByOne("hostile-list", 3);
    const packs = await readInfoPacks(bed.store, layout, "hostile-list");
    const hostile = ["P ../../../../etc/passwd.pack", ...packs.map((name) => `P ${name}.pack`), "P .git/config", "P /abs/pack-1.pack", ""];
    await bed.store.put(layout.infoPacks("hostile-list"), hostile.join("\n"));
    const refused = await fetchRefs(await clone("hostile-list")).catch((error: Error) => error);
    assert.match(String(refused), /has a line that is not "P pack-<sha>\.pack".*cloudbridge compact/);

    const report = await compactNow("hostile-list");
    assert.deepEqual([...report.merged].sort(), [...packs].sort());
    assert.deepEqual(await readInfoPacks(bed.store, layout, "hostile-list"), [report.published]);
    assert.equal(await commitsInFreshClone("hostile-list"), "3");
  });

  it("compacts beside objects under objects/pack/ that are no pack (a stray upload), leaving them alone", async () => {
    await pushedOneByOne("stray", 2);
    const stray = [`${layout.packsRoot("stray")}evil.txt`, `${layout.packsRoot("stray")}pack-${"0".repeat(40)}.keep`];
    for (const key of stray) await bed.store.put(key, "not a pack\n");
    assert.equal((await compactNow("stray")).merged.length, 2);
    for (const key of stray) assert.ok(await bed.store.head(key), `${key} is not compaction's to delete`);
    assert.equal(await commitsInFreshClone("stray"), "2");
  });

  it("compacts past a pack index that lies about its objects (its checksum made to fit): the packs are indexed from their own bytes, nothing lost", async () => {
    await pushedOneByOne("lying-idx", 3);
    const [first] = await readInfoPacks(bed.store, layout, "lying-idx");
    const stored = await bed.store.get(layout.pack("lying-idx", `${first}.idx`));
    assert.ok(stored && stored !== "not-modified");
    // One object id changed in its last bit (the table stays sorted), the index's own checksum recomputed.
    const idx = Buffer.from(stored.body);
    const count = idx.readUInt32BE(8 + 255 * 4);
    idx[8 + 256 * 4 + count * 20 - 1]! ^= 1;
    createHash("sha1")
      .update(idx.subarray(0, idx.length - 20))
      .digest()
      .copy(idx, idx.length - 20);
    await bed.store.put(layout.pack("lying-idx", `${first}.idx`), idx);

    const report = await compactNow("lying-idx");
    assert.equal(report.merged.length, 3);
    assert.deepEqual(await readInfoPacks(bed.store, layout, "lying-idx"), [report.published]);
    assert.equal(await commitsInFreshClone("lying-idx"), "3");
    const fresh = await clone("lying-idx");
    await fetchRefs(fresh);
    await git(fresh.dir, "fsck", "--strict", "--no-dangling");
  });

  it("the isomorphic-git engine (Lambda's) compacts to a pack native git reads", async () => {
    const a = await clone("portable");
    await importCommits(a.dir, "main", 5, (i) => ({ [`dir/f${i}`]: `content ${i}\n`.repeat(50) }));
    for (const oid of (await git(a.dir, "rev-list", "--reverse", "main")).split("\n"))
      await push({ ...a, updates: [{ ref: "refs/heads/main", oid }] });
    const report = await compactRepository({
      store: bed.store,
      layout,
      repo: "portable",
      engine: new IsomorphicGitEngine(),
      graceMs: GRACE,
    });
    assert.equal(report.merged.length, 5);
    const fresh = await clone("portable");
    assert.equal((await fetchRefs(fresh)).packsDownloaded, 1);
    assert.equal(await git(fresh.dir, "rev-list", "--count", "refs/remotes/cloud/main"), "5");
    await git(fresh.dir, "fsck", "--strict", "--no-dangling");
  });

  it("cloudbridge compact runs it from the command line", async () => {
    const a = await clone("cli");
    await importCommits(a.dir, "main", 2, (i) => ({ [`f${i}`]: `${i}\n` }));
    for (const oid of (await git(a.dir, "rev-list", "--reverse", "main")).split("\n"))
      await push({ ...a, updates: [{ ref: "refs/heads/main", oid }] });
    const env = { ...process.env, ...bed.t.cloud.env, ...GIT_ENV };
    const { stdout } = await run(CLI, ["compact", `cloudbridge::s3://${bed.t.cloud.bucket}/cli`, "--json"], { env });
    const report = JSON.parse(stdout) as { merged: string[]; published: string };
    assert.equal(report.merged.length, 2);
    assert.deepEqual(await readInfoPacks(bed.store, layout, "cli"), [report.published]);
    const bad = await run(CLI, ["compact"], { env, cwd: bed.work }).catch((e: { code: number; stderr: string }) => e);
    assert.equal((bad as { code: number }).code, 2);
    assert.match((bad as { stderr: string }).stderr, /Which repository\?/);
  });
});
