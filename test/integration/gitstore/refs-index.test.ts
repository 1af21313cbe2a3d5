import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { createHash, randomUUID } from "node:crypto";
import { mkdir, mkdtemp, readdir, readFile, rm, stat, utimes, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { cachedRefsIndex, fetchRefs, push, readRefsIndex, type RepoContext } from "../../../gitstore/index.ts";
import { cachedPackList, indexEntries, KEPT_NOTES, rememberPackList, writeRefsIndex } from "../../../gitstore/refs-index.ts";
import { FaultyStore, InjectedFault } from "../../helpers/faulty-store.ts";
import { commitFile, git } from "../../helpers/git.ts";
import { useGitCloud } from "../../helpers/git-cloud.ts";
import { CountingStore } from "../../../bench/counting-store.ts";
import { S3ObjectStore, type ObjectStore } from "../../../objectstore/index.ts";
import { startTestCloud } from "../../helpers/local-cloud.ts";
import type { BucketLayout } from "../../../protocol/index.ts";

/** The last commit whose bucket layout was format 2 (a file per ref): its gitstore is "the old code path". */
const FORMAT_2_COMMIT = "90ec238ae3beec490c4a73642db67cba879f77c6";

type OldPush = (options: RepoContext & { agent: string; updates: { ref: string; oid: string }[] }) => Promise<unknown>;

describe("the refs index (format 3): one object for every ref, and buckets of format 1 and 2 moved into it", () => {
  const bed = useGitCloud("git-refs-index");
  let oldCode: string;
  let oldPush: OldPush;
  /** The bucket through the old code's own store (its errors are its own classes). */
  let oldStore: ObjectStore;
  before(async () => {
    // The format 2 code, as it was, beside this one (inside the checkout, so its imports find node_modules).
    oldCode = await mkdtemp(join(process.cwd(), ".format-2-code-"));
    const archive = await promisify(execFile)(
      "git",
      ["archive", "--format=tar", FORMAT_2_COMMIT, "gitstore", "objectstore", "protocol", "localgit"],
      {
        encoding: "buffer",
        maxBuffer: 64 * 1024 * 1024,
      },
    );
    await new Promise<void>((ok, fail) => {
      const tar = execFile("tar", ["-x", "-C", oldCode], (error) => (error ? fail(error) : ok()));
      tar.stdin!.end(archive.stdout);
    });
    const old = (await import(join(oldCode, "gitstore", "index.ts"))) as { push: OldPush };
    const { S3ObjectStore: OldS3ObjectStore } = (await import(join(oldCode, "objectstore", "s3-object-store.ts"))) as {
      S3ObjectStore: new (bucket: string, client: unknown) => ObjectStore;
    };
    const { BucketLayout: OldBucketLayout } = (await import(join(oldCode, "protocol", "layout.ts"))) as {
      BucketLayout: new (prefix?: string) => BucketLayout;
    };
    oldStore = new OldS3ObjectStore(bed.t.cloud.bucket, bed.t.s3);
    const oldLayout = new OldBucketLayout(bed.layout.prefix);
    oldPush = (options) => old.push({ ...options, layout: oldLayout, store: options.store === bed.store ? oldStore : options.store });
  });
  after(() => rm(oldCode, { recursive: true, force: true }));

  async function keysUnder(prefix: string): Promise<string[]> {
    const keys: string[] = [];
    for await (const info of bed.store.list(prefix)) keys.push(info.key.slice(prefix.length));
    return keys.sort();
  }

  it("a repository the format 2 code wrote (one file per ref, one push interrupted before info/refs) is read and moved into the index; nothing is lost", async () => {
    const a = await bed.clone("legacy");
    const b = await bed.clone("legacy");
    const first = await commitFile(a.dir, "a.txt", "one\n");
    await oldPush({ ...a, updates: [{ ref: "refs/heads/main", oid: first }] });
    await git(b.dir, "fetch", "-q", a.dir, "main");
    await git(b.dir, "reset", "-q", "--hard", "FETCH_HEAD");
    const fromB = await commitFile(b.dir, "b.txt", "b\n");
    await oldPush({ ...b, updates: [{ ref: "refs/heads/topic", oid: fromB }] });
    // The old code's push of main, interrupted after its compare-and-swap, before it rewrote info/refs.
    const second = await commitFile(a.dir, "a.txt", "two\n");
    await assert.rejects(
      oldPush({
        ...a,
        store: new FaultyStore(oldStore, (key) => key.endsWith("/info/refs")),
        updates: [{ ref: "refs/heads/main", oid: second }],
      }),
      InjectedFault,
    );
    assert.ok((await keysUnder(bed.layout.refsRoot("legacy"))).includes("heads/main"), "the old code wrote a file per ref");

    // The new code reads it: every ref, the interrupted push's main included (its file is newer than info/refs).
    const reader = await bed.clone("legacy");
    const logged: string[] = [];
    const fetched = await fetchRefs({ ...reader, log: (line) => logged.push(line) });
    assert.equal(await git(reader.dir, "rev-parse", "refs/remotes/cloud/main"), second);
    assert.equal(await git(reader.dir, "rev-parse", "refs/remotes/cloud/topic"), fromB);
    assert.equal(await git(reader.dir, "rev-parse", `refs/remotes/cloud-synced/${b.agent}/topic`), fromB);
    assert.equal(await git(reader.dir, "rev-parse", `refs/remotes/cloud-synced/${a.agent}/main`), second);
    assert.equal(fetched.refs.corrupt.size, 0);
    assert.match(logged.join("\n"), /moved 4 refs .* into its refs index/);
    // The files are gone, the folder object marks the move, and the index holds every ref.
    assert.deepEqual(await keysUnder(bed.layout.refsRoot("legacy")), [""]);
    const index = await readRefsIndex(await bed.clone("legacy"));
    assert.deepEqual([...index.refs.shared.keys()].sort(), ["refs/heads/main", "refs/heads/topic"]);
    assert.equal(index.refs.synced.size, 2);

    // The new code pushes on top; plain git clones it over dumb HTTP.
    await fetchRefs(a);
    const third = await commitFile(a.dir, "a.txt", "three\n");
    const pushed = await push({ ...a, updates: [{ ref: "refs/heads/main", oid: third }] });
    assert.equal(pushed.results[0]!.status, "updated");
    const plain = bed.path("plain");
    await git(bed.work, "clone", "-q", `${bed.t.cloud.endpoint}/${bed.t.cloud.bucket}/repos/legacy.git`, plain);
    assert.equal(await git(plain, "rev-parse", "HEAD"), third);
    await git(plain, "fsck", "--strict", "--no-dangling");

    // An older cloudbridge still running refuses the moved repository (the refs/ folder object is not in its
    // layout) instead of writing beside the index; a stray file that appears anyway does not move the index back.
    await assert.rejects(
      oldPush({ ...b, agent: randomUUID(), updates: [{ ref: "refs/heads/main", oid: fromB }] }),
      /not in the cloudbridge layout|not valid/,
    );
    await bed.store.put(bed.layout.ref("legacy", "refs/heads/main"), `${fromB}\n`);
    const late = await bed.clone("legacy");
    await fetchRefs(late);
    assert.equal(await git(late.dir, "rev-parse", "refs/remotes/cloud/main"), third);
  });

  it("a one-file push costs a few requests whatever the number of agents: the index is written on top of the version this machine saw", async () => {
    const a = await bed.clone("requests");
    await push({ ...a, updates: [{ ref: "refs/heads/main", oid: await commitFile(a.dir, "a.txt", "0\n") }] });
    // 30 other agents' synced refs in the index (before: a GET of each, five times per push).
    for (let i = 0; i < 30; i++) {
      const other = await bed.clone("requests");
      await fetchRefs(other);
      await git(other.dir, "reset", "-q", "--hard", "refs/remotes/cloud/main");
      await push({ ...other, updates: [{ ref: "refs/heads/main", oid: await git(other.dir, "rev-parse", "HEAD") }] });
    }
    await fetchRefs(a);
    const counting = new CountingStore(bed.store);
    for (let i = 1; i <= 3; i++) {
      const oid = await commitFile(a.dir, "a.txt", `${i}\n`);
      counting.reset();
      const { results } = await push({ ...a, store: counting, updates: [{ ref: "refs/heads/main", oid }] });
      assert.equal(results[0]!.status, "updated");
      // pack, idx, objects/info/packs, the index, packed-refs.
      assert.equal(counting.requests, 5, `push ${i}`);
    }
    // Another machine's write in between costs one 412 and one read, not a read of every ref.
    const other = await bed.clone("requests");
    await fetchRefs(other);
    await push({ ...other, updates: [{ ref: "refs/heads/side", oid: await git(other.dir, "rev-parse", "refs/remotes/cloud/main") }] });
    counting.reset();
    const oid = await commitFile(a.dir, "a.txt", "after\n");
    assert.equal((await push({ ...a, store: counting, updates: [{ ref: "refs/heads/main", oid }] })).results[0]!.status, "updated");
    assert.ok(counting.requests <= 9, `${counting.requests} requests after another machine's write`);
    // A fetch with nothing new is one request (a 304).
    counting.reset();
    await fetchRefs({ ...a, store: counting });
    assert.equal(counting.requests, 1);
  });

  it("this machine's notes of the pack list and of the index, saved moments apart, both last: the index goes up without waiting for the pack list's note to be on disk", async () => {
    const a = await bed.clone("notes");
    await push({ ...a, updates: [{ ref: "refs/heads/main", oid: await commitFile(a.dir, "a.txt", "a\n") }] });
    const index = await readRefsIndex(a);
    const packs = { etag: '"the list as just written"', body: "P pack-0123456789abcdef0123456789abcdef01234567.pack\n" };
    // As a push does: the list's note queued (not awaited), then the index written and its note saved.
    const listNoted = rememberPackList(a, packs);
    const written = await writeRefsIndex(a, indexEntries(index.refs), index.etag);
    await listNoted;
    assert.deepEqual(await cachedPackList(a), packs, "the pack list's note was kept");
    assert.equal((await cachedRefsIndex(a))?.etag, written, "and the index's");
  });

  it("one bucket and repository name at two endpoints are two buckets: each keeps its own remembered index, and a push to the second sends all the second lacks", async () => {
    const other = await startTestCloud();
    try {
      assert.equal(other.cloud.bucket, bed.t.cloud.bucket, "the same bucket name at both endpoints");
      const atFirst = new S3ObjectStore(bed.t.cloud.bucket, bed.t.s3, bed.t.cloud.endpoint);
      const atSecond = new S3ObjectStore(other.cloud.bucket, other.s3, other.cloud.endpoint);
      const first = await bed.clone("two-endpoints", atFirst);
      const second = { ...first, store: atSecond };
      const one = await commitFile(first.dir, "one.txt", "one\n");
      await push({ ...first, updates: [{ ref: "refs/heads/main", oid: one }] });
      const two = await commitFile(first.dir, "two.txt", "two\n");
      await push({ ...second, updates: [{ ref: "refs/heads/main", oid: two }] });
      // A reader of the second endpoint gets the whole history: the push did not take the first's objects for the second's.
      const reader = await bed.clone("two-endpoints", atSecond);
      await fetchRefs(reader);
      assert.equal(await git(reader.dir, "rev-parse", "refs/remotes/cloud/main"), two);
      await git(reader.dir, "fsck", "--strict", "--no-dangling", "refs/remotes/cloud/main");
      assert.equal(await git(reader.dir, "show", "refs/remotes/cloud/main~1:one.txt"), "one");
      assert.equal((await cachedRefsIndex(first))?.refs.shared.get("refs/heads/main")?.oid, one, "the first endpoint's index is its own");
      assert.equal((await cachedRefsIndex(second))?.refs.shared.get("refs/heads/main")?.oid, two);

      // What an earlier version remembered, in one file for the bucket and repository whatever the endpoint, is still
      // asked for conditionally; but it may be another endpoint's, so nothing is taken from it without the bucket's word.
      const perRemote = join(first.gitDir, "cloudbridge", "refs-index");
      const caches = await Promise.all(
        (await readdir(perRemote)).map(async (name) => JSON.parse(await readFile(join(perRemote, name), "utf8")) as { endpoint?: string }),
      );
      assert.equal(caches.length, 2, "one file per endpoint");
      const firstOne = caches.find((cache) => cache.endpoint === new URL(bed.t.cloud.endpoint).href);
      assert.ok(firstOne);
      delete firstOne.endpoint;
      await rm(perRemote, { recursive: true });
      await mkdir(perRemote);
      const legacyName = createHash("sha256")
        .update(`${bed.t.cloud.bucket}/${bed.layout.repoRoot("two-endpoints")}`)
        .digest("hex")
        .slice(0, 32);
      await writeFile(join(perRemote, `${legacyName}.json`), JSON.stringify(firstOne));
      assert.equal(await cachedRefsIndex(first), undefined, "not taken for the index without a request");
      assert.equal(await cachedRefsIndex(second), undefined);
      const counting = new CountingStore(atFirst);
      await fetchRefs({ ...first, store: counting });
      assert.equal(counting.requests, 1, "the earlier file's version is asked for conditionally");
      assert.equal((await cachedRefsIndex(first))?.refs.shared.get("refs/heads/main")?.oid, one);
      const three = await commitFile(first.dir, "three.txt", "three\n");
      await push({ ...second, updates: [{ ref: "refs/heads/main", oid: three }] });
      const later = await bed.clone("two-endpoints", atSecond);
      await fetchRefs(later);
      await git(later.dir, "fsck", "--strict", "--no-dangling", "refs/remotes/cloud/main");
      assert.equal(await git(later.dir, "rev-parse", "refs/remotes/cloud/main"), three);
    } finally {
      await other.stop();
    }
  });

  it("two cloudbridge remotes of one git repository each keep their own remembered index: one's reads and pushes do not cost the other a full read", async () => {
    const first = await bed.clone("remote-one");
    const second = { ...first, repo: "remote-two" };
    await push({ ...first, updates: [{ ref: "refs/heads/main", oid: await commitFile(first.dir, "a.txt", "one\n") }] });
    await push({ ...second, updates: [{ ref: "refs/heads/main", oid: await commitFile(first.dir, "a.txt", "two\n") }] });
    await fetchRefs(second);
    const remembered = await cachedRefsIndex(first);
    assert.ok(remembered, "the first remote's index is still remembered after the second's push and fetch");
    assert.equal(remembered.refs.shared.get("refs/heads/main")?.oid, await git(first.dir, "rev-parse", "HEAD~1"));
    assert.equal((await cachedRefsIndex(second))?.refs.shared.get("refs/heads/main")?.oid, await git(first.dir, "rev-parse", "HEAD"));
    // Nothing moved in the first: its fetch is one conditional read (a 304), not a full read and a LIST.
    const counting = new CountingStore(bed.store);
    await fetchRefs({ ...first, store: counting });
    assert.equal(counting.requests, 1);

    // What an older version remembered, in the one file it kept for every remote, is still used for the remote it names.
    const perRemote = join(first.gitDir, "cloudbridge", "refs-index");
    const caches = await Promise.all(
      (await readdir(perRemote)).map(async (name) => JSON.parse(await readFile(join(perRemote, name), "utf8")) as { where: string }),
    );
    assert.equal(caches.length, 2, "one file per remote");
    const firstOne = caches.find((cache) => cache.where.endsWith("/remote-one.git/"));
    assert.ok(firstOne, caches.map((cache) => cache.where).join(", "));
    await rm(perRemote, { recursive: true });
    await writeFile(join(first.gitDir, "cloudbridge", "refs-index.json"), JSON.stringify(firstOne));
    counting.reset();
    await fetchRefs({ ...first, store: counting });
    assert.equal(counting.requests, 1, "the older file's version is asked for conditionally");
    counting.reset();
    await fetchRefs({ ...second, store: counting });
    assert.ok(counting.requests > 1, "the older file names the first remote only: the second reads its index whole");
  });

  it("the notes of endpoints and repositories reached once stay few: past KEPT_NOTES the least recently written go, and what a killed write left", async () => {
    const first = await bed.clone("many-endpoints");
    const pushed = await commitFile(first.dir, "a.txt", "one\n");
    await push({ ...first, updates: [{ ref: "refs/heads/main", oid: pushed }] });
    const notes = join(first.gitDir, "cloudbridge", "refs-index");
    // A temporary note as a process killed between writing and renaming it leaves, long ago; and one being written now.
    const abandoned = join(notes, "0123456789abcdef0123456789abcdef.json.4321.abc.tmp");
    const writing = join(notes, "fedcba9876543210fedcba9876543210.json.4322.def.tmp");
    await writeFile(abandoned, "{");
    await writeFile(writing, "{");
    const dayAgo = new Date(Date.now() - 24 * 60 * 60 * 1000);
    await utimes(abandoned, dayAgo, dayAgo);
    // The same bucket under as many endpoint names (a local cloud started on a new port each time): a note each.
    const at = (n: number) => ({ ...first, store: new S3ObjectStore(bed.t.cloud.bucket, bed.t.s3, `http://endpoint-${n}.invalid/`) });
    const reached = KEPT_NOTES + 4;
    // Each note written a step after the one before, whatever the file system's resolution; the push's before them all.
    const seen = new Set<string>();
    for (let n = -1; n < reached; n++) {
      if (n >= 0) await readRefsIndex(at(n));
      const when = new Date(Date.now() - (reached - n) * 10_000);
      for (const name of await readdir(notes))
        if (name.endsWith(".json") && !seen.has(name)) {
          seen.add(name);
          await utimes(join(notes, name), when, when);
        }
    }
    const left = (await readdir(notes)).filter((name) => name.endsWith(".json"));
    assert.equal(left.length, KEPT_NOTES, left.join(", "));
    for (let n = 0; n < reached; n++)
      assert.equal(
        (await cachedRefsIndex(at(n))) !== undefined,
        n >= reached - KEPT_NOTES,
        `endpoint ${n}'s note kept only if among the last written`,
      );
    await assert.rejects(stat(abandoned), { code: "ENOENT" }, "a killed write's file is gone");
    await stat(writing); // one another process may still rename is left
    // A remote whose note went reads its index whole, and gets it right.
    const counting = new CountingStore(at(0).store);
    const { refs } = await readRefsIndex({ ...first, store: counting });
    assert.equal(refs.shared.get("refs/heads/main")?.oid, pushed);
    assert.ok(counting.requests >= 1);
  });

  it("what a killed write of a note left is removed at the next fetch that downloads a pack, not only at a remote's first note; a failed write leaves nothing", async () => {
    const first = await bed.clone("killed-notes");
    const reader = await bed.clone("killed-notes");
    await push({ ...first, updates: [{ ref: "refs/heads/main", oid: await commitFile(first.dir, "a.txt", "one\n") }] });
    await fetchRefs(reader);
    // Beside the reader's note, a temporary one a process killed long ago left, and one another is writing now.
    const notes = join(reader.gitDir, "cloudbridge", "refs-index");
    const [note] = (await readdir(notes)).filter((name) => name.endsWith(".json"));
    const abandoned = join(notes, `${note}.4321.abc.tmp`);
    const writing = join(notes, `${note}.4322.def.tmp`);
    await writeFile(abandoned, "{");
    await writeFile(writing, "{");
    const dayAgo = new Date(Date.now() - 24 * 60 * 60 * 1000);
    await utimes(abandoned, dayAgo, dayAgo);
    await push({ ...first, updates: [{ ref: "refs/heads/main", oid: await commitFile(first.dir, "b.txt", "two\n") }] });
    assert.equal((await fetchRefs(reader)).packsDownloaded, 1);
    await assert.rejects(stat(abandoned), { code: "ENOENT" }, "a killed write's file is gone");
    await stat(writing); // one another process may still rename is left
    assert.equal((await cachedRefsIndex(reader))?.refs.shared.get("refs/heads/main")?.oid, await git(first.dir, "rev-parse", "HEAD"));
    // A note that cannot be put in place (here a directory where it goes) fails, and leaves no part of itself.
    await rm(writing);
    await rm(join(notes, note!));
    await mkdir(join(notes, note!, "in-the-way"), { recursive: true });
    await git(reader.dir, "reset", "-q", "--hard", "refs/remotes/cloud/main");
    await assert.rejects(push({ ...reader, updates: [{ ref: "refs/heads/main", oid: await commitFile(reader.dir, "c.txt", "three\n") }] }));
    assert.deepEqual(
      (await readdir(notes)).filter((name) => name.endsWith(".tmp")),
      [],
    );
  });
});
