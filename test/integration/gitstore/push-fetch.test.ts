import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdir, readdir, writeFile } from "node:fs/promises";
import type { Readable } from "node:stream";
import { dirname, join } from "node:path";
import { describe, it } from "node:test";
import {
  fetchRefs,
  NativeGitEngine,
  push,
  readInfoPacks,
  readRefsIndex,
  SINGLE_PUT_LIMIT,
  treeMergeCallback,
  type GitEngine,
} from "../../../gitstore/index.ts";
import { setTimeout as sleep } from "node:timers/promises";
import { commitFile, git, importCommits } from "../../helpers/git.ts";
import { useGitCloud } from "../../helpers/git-cloud.ts";
import { FaultyStore, InjectedFault } from "../../helpers/faulty-store.ts";
import type { ObjectStore, UploadOptions } from "../../../objectstore/object-store.ts";
import { IsomorphicGitEngine } from "../../../gitstore/isomorphic-engine.ts";

describe("git push and fetch through the bucket", () => {
  const bed = useGitCloud("git-push-fetch", "team");
  const { clone } = bed;

  it("round trip: 200 commits pushed by one clone arrive identical in another; both fsck clean; plain git clones it over dumb HTTP and from a copy on disk", async () => {
    const a = await clone("history");
    const tip = await importCommits(a.dir, "main", 200, (i) => ({ [`dir${i % 7}/file${i}.txt`]: `content ${i}\n`, "log.txt": `${i}\n` }));
    const pushed = await push({ ...a, updates: [{ ref: "refs/heads/main", oid: tip }], remote: "cloud" });
    assert.deepEqual(pushed.results, [{ ref: "refs/heads/main", status: "created", oid: tip }]);
    assert.equal(pushed.packsUploaded, 1);

    const b = await clone("history");
    const fetched = await fetchRefs(b);
    assert.equal(fetched.packsDownloaded, 1);
    assert.equal(await git(b.dir, "rev-parse", "refs/remotes/cloud/main"), tip);
    assert.equal(await git(b.dir, "rev-parse", `refs/remotes/cloud-synced/${a.agent}/main`), tip);
    assert.equal(await git(b.dir, "rev-list", "--count", "refs/remotes/cloud/main"), "200");
    await git(a.dir, "fsck", "--strict", "--no-dangling");
    await git(b.dir, "fsck", "--strict", "--no-dangling");

    const plain = bed.path("plain");
    await git(bed.work, "clone", "-q", `${bed.t.cloud.endpoint}/${bed.t.cloud.bucket}/team/repos/history.git`, plain);
    assert.equal(await git(plain, "rev-parse", "HEAD"), tip);
    assert.equal(await git(plain, "rev-list", "--count", "HEAD"), "200");
    await git(plain, "fsck", "--strict", "--no-dangling");

    // A copy of the prefix on disk is a bare repository git accepts as it is.
    const copy = bed.path("copy.git");
    const root = bed.layout.repoRoot("history");
    for await (const info of bed.store.list(root)) {
      // A key ending in "/" is a folder, as `aws s3 sync` makes it.
      if (info.key.endsWith("/")) {
        await mkdir(join(copy, info.key.slice(root.length)), { recursive: true });
        continue;
      }
      const object = await bed.store.get(info.key);
      assert.ok(object && object !== "not-modified");
      await mkdir(dirname(join(copy, info.key.slice(root.length))), { recursive: true });
      await writeFile(join(copy, info.key.slice(root.length)), object.body);
    }
    await git(copy, "fsck", "--strict", "--no-dangling");
    assert.equal(await git(copy, "rev-parse", "HEAD"), tip);
    const fromCopy = bed.path("from-copy");
    await git(bed.work, "clone", "-q", copy, fromCopy);
    assert.equal(await git(fromCopy, "rev-parse", "HEAD"), tip);

    // A second fetch with nothing new downloads nothing.
    const again = await fetchRefs(b);
    assert.equal(again.packsDownloaded, 0);
    assert.deepEqual(again.updated, []);
  });

  it("the same round trip through the isomorphic-git engine (the portable one behind the same seam)", async () => {
    const engine = new IsomorphicGitEngine();
    const a = { ...(await clone("portable")), engine };
    const base = await importCommits(a.dir, "main", 20, (i) => ({ [`dir${i % 3}/file${i}.txt`]: `content ${i}\n` }));
    await push({ ...a, updates: [{ ref: "refs/heads/main", oid: base }] });
    const tip = await importCommits(a.dir, "main", 5, (i) => ({ [`later/${i}.txt`]: `later ${i}\n` }));
    const second = await push({ ...a, updates: [{ ref: "refs/heads/main", oid: tip }] });
    assert.equal(second.objectsUploaded, 5 + 5 * 2 + 5, "5 commits, 5 root and 5 later/ trees, 5 blobs: only what is new");
    const b = { ...(await clone("portable")), engine };
    assert.equal((await fetchRefs(b)).packsDownloaded, 2);
    assert.equal(await git(b.dir, "rev-parse", "refs/remotes/cloud/main"), tip);
    await git(b.dir, "fsck", "--strict", "--no-dangling");
  });

  it("a one-file commit on a repository of 10,000 files uploads a pack of a few objects", async () => {
    const a = await clone("big");
    const files: Record<string, string> = {};
    for (let i = 0; i < 10_000; i++) files[`d${i % 100}/f${i}.txt`] = `file ${i}\n`;
    const base = await importCommits(a.dir, "main", 1, () => files);
    const first = await push({ ...a, updates: [{ ref: "refs/heads/main", oid: base }] });
    assert.equal(first.objectsUploaded, 10_000 + 100 + 1 + 1);
    await git(a.dir, "checkout", "-q", "main");
    const next = await commitFile(a.dir, "d7/f7.txt", "changed\n");
    const second = await push({ ...a, updates: [{ ref: "refs/heads/main", oid: next }] });
    assert.deepEqual(second.results, [{ ref: "refs/heads/main", status: "updated", oid: next }]);
    assert.equal(second.objectsUploaded, 4, "commit, root tree, d7 tree, blob");
  });

  it("a push records what it wrote in its own tracking refs, its synced ref too: the pusher's next fetch finds nothing moved", async () => {
    const a = await clone("own-push");
    const first = await commitFile(a.dir, "one.txt", "one\n");
    await push({ ...a, updates: [{ ref: "refs/heads/main", oid: first }], remote: "cloud" });
    assert.deepEqual((await fetchRefs(a)).updated, []);
    const second = await commitFile(a.dir, "two.txt", "two\n");
    const pushed = await push({ ...a, updates: [{ ref: "refs/heads/main", oid: second, contains: first }], remote: "cloud" });
    assert.deepEqual(pushed.results, [{ ref: "refs/heads/main", status: "updated", oid: second }]);
    assert.equal(await git(a.dir, "rev-parse", `refs/remotes/cloud-synced/${a.agent}/main`), second);
    const fetched = await fetchRefs(a);
    assert.deepEqual(fetched.updated, [], "the fetch after one's own push moves no tracking ref");
    assert.equal(fetched.refs.shared.get("refs/heads/main")?.oid, second);
  });

  it("a fetch after another machine's push downloads that machine's pack only, not the packs this machine pushed itself", async () => {
    const a = await clone("own-packs");
    const b = await clone("own-packs");
    const first = await commitFile(a.dir, "one.txt", "one\n");
    await push({ ...a, updates: [{ ref: "refs/heads/main", oid: first }], remote: "cloud" });
    assert.equal((await fetchRefs(b)).packsDownloaded, 1);
    await git(b.dir, "checkout", "-q", "-B", "main", "refs/remotes/cloud/main");
    const second = await commitFile(a.dir, "two.txt", "two\n");
    await push({ ...a, updates: [{ ref: "refs/heads/main", oid: second, contains: first }], remote: "cloud" });
    // b pushes on top of a's two packs (its push folds none of them: they are listed, not this machine's to fold).
    await fetchRefs(b);
    await git(b.dir, "checkout", "-q", "-B", "main", "refs/remotes/cloud/main");
    const third = await commitFile(b.dir, "three.txt", "three\n");
    await push({ ...b, updates: [{ ref: "refs/heads/main", oid: third, contains: second }], remote: "cloud" });
    const listed = await readInfoPacks(bed.store, bed.layout, "own-packs");
    const fetched = await fetchRefs(a);
    assert.equal(await git(a.dir, "rev-parse", "refs/remotes/cloud/main"), third);
    assert.equal(fetched.packsDownloaded, 1, `a downloads b's pack alone, of ${listed.length} listed`);
    await git(a.dir, "fsck", "--strict", "--no-dangling");
  });

  it("a pack larger than one PUT is streamed up in parts, and a retried push does not send it again", async () => {
    const a = await clone("large");
    await writeFile(join(a.dir, "large.bin"), randomBytes(SINGLE_PUT_LIMIT + 1024 * 1024));
    const oid = await commitFile(a.dir, "small.txt", "small\n");
    await git(a.dir, "add", "large.bin");
    await git(a.dir, "commit", "-q", "-m", "large");
    const tip = await git(a.dir, "rev-parse", "HEAD");
    const uploads: string[] = [];
    const counting = Object.assign(Object.create(bed.store) as ObjectStore, {
      upload: (key: string, body: Readable | Buffer, options?: UploadOptions) => {
        uploads.push(key);
        return bed.store.upload(key, body, options);
      },
    });
    // Interrupted after the pack: the retry finds the large pack already there.
    const failing = new FaultyStore(counting, (key) => key.endsWith("objects/info/packs"));
    await assert.rejects(push({ ...a, store: failing, updates: [{ ref: "refs/heads/main", oid: tip }] }), InjectedFault);
    const retried = await push({ ...a, store: counting, updates: [{ ref: "refs/heads/main", oid: tip }] });
    assert.equal(retried.results[0]!.status, "created");
    assert.equal(uploads.length, 1, "streamed once, not again on retry");
    const b = await clone("large");
    await fetchRefs(b);
    assert.equal(await git(b.dir, "rev-parse", "refs/remotes/cloud/main"), tip);
    assert.equal(await git(b.dir, "rev-parse", "refs/remotes/cloud/main~1"), oid);
    await git(b.dir, "fsck", "--strict", "--no-dangling");
  });

  it("a non-fast-forward push is rejected, forced on request, or merged by the callback", async () => {
    const a = await clone("conflicts");
    const b = await clone("conflicts");
    const base = await commitFile(a.dir, "base.txt", "base\n");
    await push({ ...a, updates: [{ ref: "refs/heads/main", oid: base }] });
    await fetchRefs(b);
    await git(b.dir, "reset", "-q", "--hard", "refs/remotes/cloud/main");
    const fromA = await commitFile(a.dir, "a.txt", "a\n");
    const fromB = await commitFile(b.dir, "b.txt", "b\n");
    assert.equal((await push({ ...a, updates: [{ ref: "refs/heads/main", oid: fromA }] })).results[0]!.status, "updated");

    const rejected = await push({ ...b, updates: [{ ref: "refs/heads/main", oid: fromB }] });
    assert.deepEqual(rejected.results[0], { ref: "refs/heads/main", status: "rejected", oid: fromA, reason: "fetch first" });
    // Even rejected, B's commit is in the bucket under B's synced ref: nothing is lost.
    const c = await clone("conflicts");
    await fetchRefs(c);
    assert.equal(await git(c.dir, "rev-parse", `refs/remotes/cloud-synced/${b.agent}/main`), fromB);

    const merged = await push({ ...b, updates: [{ ref: "refs/heads/main", oid: fromB, onConflict: treeMergeCallback(b.gitDir) }] });
    const result = merged.results[0]!;
    assert.equal(result.status, "merged");
    assert.equal(await git(b.dir, "rev-parse", `${result.oid}^1`), fromB);
    assert.equal(await git(b.dir, "rev-parse", `${result.oid}^2`), fromA);
    await fetchRefs(c);
    assert.equal(await git(c.dir, "rev-parse", "refs/remotes/cloud/main"), result.oid);

    const forced = await push({ ...a, updates: [{ ref: "refs/heads/main", oid: fromA, onConflict: "force" }] });
    assert.equal(forced.results[0]!.status, "forced");
    await fetchRefs(c);
    assert.equal(await git(c.dir, "rev-parse", "refs/remotes/cloud/main"), fromA);
  });

  it("git makes the pack while the push checks that what it pushes contains the refs this machine remembers: neither waits for the other", async () => {
    const a = await clone("overlap");
    await push({ ...a, updates: [{ ref: "refs/heads/main", oid: await commitFile(a.dir, "a.txt", "one\n") }] });
    const native = new NativeGitEngine();
    const events: string[] = [];
    let packing!: () => void;
    const packStarted = new Promise<void>((resolve) => (packing = resolve));
    const engine: GitEngine = Object.assign(Object.create(native) as GitEngine, {
      packObjects: (...args: Parameters<GitEngine["packObjects"]>) => {
        events.push("pack begun");
        packing();
        return native.packObjects(...args);
      },
      // Answers once git has begun the pack, or after 3 s: what a push that waits for the answer before packing gets.
      isAncestor: async (...args: Parameters<GitEngine["isAncestor"]>) => {
        const began = await Promise.race([packStarted.then(() => true), sleep(3000).then(() => false)]);
        events.push(began ? "checked while packing" : "checked before any pack");
        return native.isAncestor(...args);
      },
    });
    const oid = await commitFile(a.dir, "a.txt", "two\n");
    assert.equal((await push({ ...a, engine, updates: [{ ref: "refs/heads/main", oid }] })).results[0]!.status, "updated");
    assert.deepEqual(events, ["pack begun", "checked while packing"]);
    const reader = await clone("overlap");
    await fetchRefs(reader);
    assert.equal(await git(reader.dir, "rev-parse", "refs/remotes/cloud/main"), oid);
  });

  it("a push whose remembered refs are out of date (a rewritten history, another machine's push, a commit never fetched) is refused or forced as git would, sends every object, and leaves nothing behind", async () => {
    const a = await clone("remembered");
    const b = await clone("remembered");
    const main = (oid: string, onConflict?: "force") => ({ ...a, updates: [{ ref: "refs/heads/main", oid, onConflict }] });
    const first = await commitFile(a.dir, "a.txt", "one\n");
    await push(main(first));
    assert.equal((await push(main(await commitFile(a.dir, "a.txt", "two\n")))).results[0]!.status, "updated");
    // A's history rewritten: what it remembers in the bucket is not in what it pushes.
    await git(a.dir, "reset", "-q", "--hard", first);
    const rewritten = await commitFile(a.dir, "a.txt", "rewritten\n");
    assert.equal((await push(main(rewritten))).results[0]!.reason, "non-fast-forward");
    assert.equal((await push(main(rewritten, "force"))).results[0]!.status, "forced");
    // B pushes on top; A, remembering its own push, packs against it and learns of B's at the swap.
    await fetchRefs(b);
    await git(b.dir, "reset", "-q", "--hard", "refs/remotes/cloud/main");
    await push({ ...b, updates: [{ ref: "refs/heads/main", oid: await commitFile(b.dir, "b.txt", "b\n") }] });
    const fromA = await commitFile(a.dir, "c.txt", "c\n");
    assert.equal((await push(main(fromA))).results[0]!.reason, "fetch first");
    // B again; A reads the index (as git's `list for-push` does) without fetching: it remembers a commit it lacks.
    await push({ ...b, updates: [{ ref: "refs/heads/main", oid: await commitFile(b.dir, "b.txt", "b2\n") }] });
    await readRefsIndex(a);
    const last = await commitFile(a.dir, "d.txt", "d\n");
    assert.equal((await push(main(last, "force"))).results[0]!.status, "forced");

    const reader = await clone("remembered");
    await fetchRefs(reader);
    assert.equal(await git(reader.dir, "rev-parse", "refs/remotes/cloud/main"), last);
    await git(reader.dir, "fsck", "--strict", "--no-dangling");
    // Nothing left of the packs made: no scratch folder; the catalog knows only packs the bucket lists.
    assert.deepEqual(
      (await readdir(join(a.gitDir, "objects"))).filter((name) => name.startsWith("tmp_")),
      [],
    );
    const listed = await readInfoPacks(bed.store, bed.layout, "remembered");
    const known = new Set((await readdir(join(a.gitDir, "cloudbridge", "bucket-packs"))).map((file) => file.replace(/\.(idx|bytes)$/, "")));
    assert.ok(
      [...known].every((name) => listed.includes(name)),
      `${[...known].join(", ")} are all listed (${listed.join(", ")})`,
    );
  });
});
