import assert from "node:assert/strict";
import { appendFile, mkdir, readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { describe, it } from "node:test";
import { journalFile, StatCache, type CacheEntry } from "../../../../agent/sync/stat-cache.ts";
import { useTempDir } from "../../../helpers/test-bed.ts";

const entry = (n: number): CacheEntry => ({ mode: "100644", oid: n.toString(16).padStart(40, "0"), size: n, mtimeMs: 1e12 + n, ino: n });

/** A cache of 100 entries saved as a snapshot (commit c1), then one change (f1's size, 11) saved as a journal line (commit c2). */
async function cacheWithJournal(file: string): Promise<StatCache> {
  const cache = await StatCache.load(file);
  for (let n = 0; n < 100; n += 1) cache.entries.set(`f${n}`, entry(n));
  cache.commit = "c1";
  await cache.save();
  cache.entries.set("f1", { ...entry(1), size: 11 });
  cache.commit = "c2";
  await cache.save();
  return cache;
}

/**
 * The stat cache is written incrementally: after a commit of a few files only those entries are appended
 * to a journal beside the snapshot, not the whole folder serialized again. A journal line cut short (the
 * process killed while appending) is ignored with everything after it, and the next write is a snapshot;
 * lines left from a snapshot since replaced are never applied to the new one.
 */
describe("the stat cache's journal", () => {
  const scratch = useTempDir("stat-cache");

  it("appends a few changes instead of rewriting the whole cache, and reads them back", async () => {
    const file = join(scratch.path, "a", "stat-cache.json");
    const cache = await StatCache.load(file);
    for (let n = 0; n < 5000; n += 1) cache.entries.set(`dir/file-${n}.txt`, entry(n));
    cache.commit = "c1";
    await cache.save();
    const snapshot = await readFile(file, "utf8");

    cache.entries.set("dir/file-7.txt", { ...entry(7), size: 70_000 });
    cache.entries.delete("dir/file-8.txt");
    cache.entries.set("new.txt", entry(9999));
    cache.commit = "c2";
    await cache.save();
    assert.equal(await readFile(file, "utf8"), snapshot, "the snapshot was not rewritten");
    const journal = await readFile(journalFile(file), "utf8");
    assert.equal(journal.split("\n").length, 2, "one line");
    assert.ok(journal.length < 500, `${journal.length} bytes for three changes`);

    const loaded = await StatCache.load(file);
    assert.equal(loaded.commit, "c2");
    assert.equal(loaded.entries.size, 5000);
    assert.equal(loaded.entries.get("dir/file-7.txt")?.size, 70_000);
    assert.equal(loaded.entries.has("dir/file-8.txt"), false);
    assert.deepEqual(loaded.entries.get("new.txt"), entry(9999));
    assert.deepEqual(loaded.entries.get("dir/file-9.txt"), entry(9));
  });

  it("folds the journal into a snapshot once it would pass a sixteenth of the snapshot, so every open replays little", async () => {
    const file = join(scratch.path, "fold", "stat-cache");
    const cache = await StatCache.load(file);
    for (let n = 0; n < 40_000; n += 1) cache.entries.set(`dir-${n % 100}/file-${n}.txt`, entry(n));
    cache.commit = "c1";
    await cache.save();
    const snapshotBytes = (await stat(file)).size;
    // 2,500 entries (fewer than an eighth of the folder) make a line of ~250 KB: more than a sixteenth.
    for (let n = 0; n < 2500; n += 1) cache.entries.set(`dir-${n % 100}/file-${n}.txt`, { ...entry(n), size: 7 });
    cache.commit = "c2";
    await cache.save();
    assert.ok((await stat(file)).size >= snapshotBytes, "a new snapshot holds the changes");
    await assert.rejects(stat(journalFile(file)), { code: "ENOENT" }, "no journal is left to replay");
    const loaded = await StatCache.load(file);
    assert.equal(loaded.commit, "c2");
    assert.equal(loaded.entries.get("dir-3/file-3.txt")?.size, 7);
    // A few changes still go to the journal.
    cache.entries.set("dir-0/file-0.txt", { ...entry(0), size: 8 });
    await cache.save();
    assert.equal((await readFile(journalFile(file), "utf8")).split("\n").length, 2);
  });

  it("ignores a line cut short and what follows, then writes a snapshot", async () => {
    const file = join(scratch.path, "b", "stat-cache.json");
    await cacheWithJournal(file);
    const whole = await readFile(journalFile(file), "utf8");
    // A second line cut short by a kill, as appendFile may leave it.
    await appendFile(journalFile(file), whole.slice(0, 30));

    const loaded = await StatCache.load(file);
    assert.equal(loaded.commit, "c2", "the complete line is applied");
    assert.equal(loaded.entries.get("f1")?.size, 11);
    loaded.entries.set("f2", { ...entry(2), size: 22 });
    loaded.commit = "c3";
    const before = await stat(file);
    await loaded.save();
    assert.notEqual((await stat(file)).ino, before.ino, "a new snapshot, not a line after the broken one");
    const again = await StatCache.load(file);
    assert.equal(again.commit, "c3");
    assert.equal(again.entries.get("f2")?.size, 22);
    assert.equal(again.entries.get("f1")?.size, 11);
  });

  it("never applies the lines of a snapshot since replaced", async () => {
    const file = join(scratch.path, "c", "stat-cache.json");
    const cache = await cacheWithJournal(file);
    const oldJournal = await readFile(journalFile(file), "utf8");
    // Everything changes (a new snapshot), and a crash kept the old journal from being removed.
    cache.entries.clear();
    cache.entries.set("only", entry(1));
    cache.commit = "c3";
    await cache.save();
    await writeFile(journalFile(file), oldJournal);
    const loaded = await StatCache.load(file);
    assert.equal(loaded.commit, "c3");
    assert.deepEqual([...loaded.entries.keys()], ["only"]);
  });
});

/**
 * The entries are kept in columns and written as a binary snapshot: every field of every kind of entry
 * comes back as it went in, a slot freed by a deletion is used again without mixing two entries, and a
 * snapshot of the older JSON format (one array per entry, in stat-cache.json) is read and then replaced.
 */
describe("the stat cache's columns", () => {
  const scratch = useTempDir("stat-cache-columns");

  const kinds: Record<string, CacheEntry> = {
    "plain.txt": { mode: "100644", oid: "a".repeat(40), size: 3, mtimeMs: 1_764_400_000_123.25, ino: 2 ** 40 + 7, annexed: false },
    "run.sh": { mode: "100755", oid: "b".repeat(40), size: 0, mtimeMs: 1, ino: 3, racy: true },
    link: { mode: "120000", oid: "c".repeat(40), size: 5, mtimeMs: 2, ino: 4, annexed: false },
    "big.bin": { mode: "100644", oid: "d".repeat(40), size: 99, mtimeMs: 3, ino: 5, annexed: "SHA256E-s99--" + "e".repeat(64) + ".bin" },
    "ghost/..x": { mode: "100644", oid: "f".repeat(40), size: -1, mtimeMs: -1, ino: -1, racy: true, ghost: true },
    "read-only.txt": { mode: "100644", oid: "1".repeat(40), size: -1, mtimeMs: -1, ino: -1, unwritten: true },
    "sha256.txt": { mode: "100644", oid: "2".repeat(64), size: 1, mtimeMs: 1, ino: 1 },
    "odd mode": { mode: "100664", oid: "3".repeat(40), size: 1, mtimeMs: 1, ino: 1 },
    "ünïcode/名前\nnewline": { mode: "100644", oid: "4".repeat(40), size: 1, mtimeMs: 1, ino: 1 },
  };

  it("reads back every kind of entry from a snapshot", async () => {
    const file = join(scratch.path, "kinds", "stat-cache");
    const cache = await StatCache.load(file);
    for (const [path, e] of Object.entries(kinds)) cache.entries.set(path, e);
    cache.entries.cleared = true; // a whole snapshot, not a journal line
    cache.commit = "c1";
    await cache.save();
    const loaded = await StatCache.load(file);
    assert.deepEqual(Object.fromEntries(loaded.entries), kinds);
    assert.equal(loaded.entries.anyUnwritten(), true);
    assert.deepEqual(
      [...loaded.entries.annexed()].map((a) => [a.path, a.key]),
      [["big.bin", kinds["big.bin"]!.annexed]],
    );
    assert.deepEqual([...loaded.entries.withOid("d".repeat(40))], ["big.bin"]);
    assert.deepEqual([...loaded.entries.withOid("2".repeat(64))], ["sha256.txt"]);
    assert.deepEqual(
      [...loaded.entries.withMode("120000")].map(([p]) => p),
      ["link"],
    );
    assert.equal(loaded.entries.unchanged("plain.txt", kinds["plain.txt"]!, "100644"), true);
    assert.equal(loaded.entries.unchanged("run.sh", kinds["run.sh"]!, "100755"), false, "racy: looked at again");
    assert.equal(loaded.entries.unchanged("plain.txt", { ...kinds["plain.txt"]!, ino: 8 }, "100644"), false);
  });

  it("uses a freed slot again without mixing two entries", async () => {
    const { entries } = await StatCache.load(join(scratch.path, "none", "stat-cache"));
    entries.set("a", kinds["big.bin"]!);
    entries.set("b", kinds["read-only.txt"]!);
    entries.delete("a");
    entries.delete("b");
    assert.equal(entries.anyUnwritten(), false);
    entries.set("c", kinds["plain.txt"]!);
    entries.set("d", kinds["sha256.txt"]!);
    assert.deepEqual(entries.get("c"), kinds["plain.txt"]);
    assert.deepEqual(entries.get("d"), kinds["sha256.txt"]);
    assert.deepEqual([...entries.annexed()], []);
    assert.deepEqual([...entries.keys()], ["c", "d"]);
  });

  it("knows which folders hold tracked paths as paths come and go, after a snapshot is read and after a clear", async () => {
    const file = join(scratch.path, "folders", "stat-cache");
    const cache = await StatCache.load(file);
    cache.entries.set("a/b/one.txt", kinds["plain.txt"]!);
    cache.entries.set("a/two.txt", kinds["plain.txt"]!);
    cache.entries.cleared = true;
    cache.commit = "c1";
    await cache.save();
    const { entries } = await StatCache.load(file);
    const folders = () => ["a", "a/b", "a/b/c", "b", "a/two.txt", "a/b/one.txt"].filter((name) => entries.hasFolder(name));
    assert.deepEqual(folders(), ["a", "a/b"], "gathered from the snapshot");
    entries.set("a/b/c/three.txt", kinds["plain.txt"]!);
    entries.set("a/b/c/three.txt", kinds["run.sh"]!); // the same path again counts once
    entries.set("b", kinds["plain.txt"]!);
    assert.deepEqual(folders(), ["a", "a/b", "a/b/c"]);
    entries.delete("a/b/c/three.txt");
    entries.delete("a/b/one.txt");
    assert.deepEqual(folders(), ["a"], "a/two.txt is still there");
    entries.delete("a/two.txt");
    entries.delete("a/two.txt"); // not there any more: nothing counted twice
    assert.deepEqual(folders(), []);
    entries.set("x/y.txt", kinds["plain.txt"]!);
    entries.clear();
    entries.set("z/w.txt", kinds["plain.txt"]!);
    assert.equal(entries.hasFolder("x"), false);
    assert.equal(entries.hasFolder("z"), true);
  });

  it("reads a snapshot of the older JSON format, then replaces it with one of its own", async () => {
    const dir = join(scratch.path, "older");
    const file = join(dir, "stat-cache");
    await mkdir(dir, { recursive: true });
    const stored = [
      ["plain.txt", "100644", "a".repeat(40), 3, 1.5, 2, 0, 0],
      ["big.bin", "100644", "d".repeat(40), 99, 3, 5, 1, "SHA256E-s99--x.bin"],
      ["new.txt", "100644", "5".repeat(40), 1, 1, 1, 0],
    ];
    await writeFile(join(dir, "stat-cache.json"), JSON.stringify({ format: 1, generation: "g1", commit: "c1", entries: stored }));
    await appendFile(journalFile(file), `${JSON.stringify({ g: "g1", c: "c2", s: [], d: ["new.txt"] })}\n`);
    const loaded = await StatCache.load(file);
    assert.equal(loaded.commit, "c2");
    assert.deepEqual(Object.fromEntries(loaded.entries), {
      "plain.txt": { mode: "100644", oid: "a".repeat(40), size: 3, mtimeMs: 1.5, ino: 2, annexed: false },
      "big.bin": { mode: "100644", oid: "d".repeat(40), size: 99, mtimeMs: 3, ino: 5, racy: true, annexed: "SHA256E-s99--x.bin" },
    });
    loaded.entries.set("later.txt", kinds["plain.txt"]!);
    await loaded.save();
    await assert.rejects(stat(join(dir, "stat-cache.json")), { code: "ENOENT" });
    const again = await StatCache.load(file);
    assert.equal(again.commit, "c2");
    assert.deepEqual([...again.entries.keys()], ["plain.txt", "big.bin", "later.txt"]);
  });
});

/**
 * Read from a snapshot, the paths stay in the file's bytes until more than a few are asked for (a sync
 * with no daemon asks about the few git named): reading a large cache and asking about a few paths makes
 * no object per path. Whatever is asked, in any order, the answers are those of the whole map: the
 * snapshot's paths, those deleted and added since, before and after they all go into the map.
 */
describe("a stat cache read from a snapshot, its paths left in the bytes", () => {
  const scratch = useTempDir("stat-cache-lazy");

  /** A snapshot of `count` files in 100 folders (commit c1). */
  async function snapshotOf(file: string, count: number, made = entry): Promise<void> {
    const cache = await StatCache.load(file);
    for (let n = 0; n < count; n += 1) cache.entries.set(`dir-${n % 100}/file-${n}.txt`, made(n));
    cache.commit = "c1";
    await cache.save();
  }

  it("makes nothing per path to read a cache of 100,000 files and answer about a few", async () => {
    const file = join(scratch.path, "large", "stat-cache");
    const known = (n: number): CacheEntry => ({ ...entry(n), annexed: false });
    await snapshotOf(file, 100_000, known);
    setFlagsFromString("--expose-gc");
    const gc = runInNewContext("gc") as () => void;
    gc();
    const before = process.memoryUsage().heapUsed;
    const loaded = await StatCache.load(file);
    const { entries } = loaded;
    assert.equal(entries.size, 100_000);
    assert.deepEqual(entries.get("dir-7/file-99907.txt"), known(99907));
    assert.equal(entries.has("dir-7/file-99908.txt"), false, "in another folder");
    assert.equal(entries.unchanged("dir-3/file-3.txt", entry(3), "100644"), true);
    assert.equal(entries.hasFolder("dir-42"), true);
    assert.equal(entries.hasFolder("dir-4"), true);
    assert.equal(entries.hasFolder("dir-100"), false);
    assert.deepEqual([...entries.annexedUnknown()], [], "every blob known not to be a pointer");
    assert.deepEqual([...entries.annexed()], []);
    assert.equal(entries.anyUnwritten(), false);
    gc();
    const grown = process.memoryUsage().heapUsed - before;
    // 100,000 paths as strings in a map are ~6 MB; the bytes read are outside the heap.
    assert.ok(grown < 1.5 * 1024 * 1024, `the heap grew by ${(grown / 1024 / 1024).toFixed(1)} MiB`);
    assert.equal(loaded.commit, "c1");
  });

  it("answers as the whole map would, whatever is asked, deleted or added, before and after every path is read", async () => {
    const file = join(scratch.path, "model", "stat-cache");
    await snapshotOf(file, 300);
    let seed = 7;
    const random = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    for (let trial = 0; trial < 30; trial += 1) {
      const { entries } = await StatCache.load(file);
      const model = new Map<string, CacheEntry>();
      for (let n = 0; n < 300; n += 1) model.set(`dir-${n % 100}/file-${n}.txt`, entry(n));
      // Some trials stay under the searches a snapshot answers, some pass them midway.
      const steps = 10 + random(120);
      for (let step = 0; step < steps; step += 1) {
        const n = random(400);
        const path = random(10) === 0 ? `new/${n}.txt` : `dir-${n % 100}/file-${n}.txt`;
        const what = random(7);
        if (what === 0) {
          entries.set(path, entry(n + 1000 * step));
          model.set(path, entry(n + 1000 * step));
        } else if (what === 1) assert.equal(entries.delete(path), model.delete(path), `delete ${path}`);
        else if (what === 2) assert.deepEqual(entries.get(path), model.get(path), `get ${path}`);
        else if (what === 3) assert.equal(entries.has(path), model.has(path), `has ${path}`);
        else if (what === 4) {
          const folder = path.slice(0, path.indexOf("/"));
          assert.equal(
            entries.hasFolder(folder),
            [...model.keys()].some((p) => p.startsWith(`${folder}/`)),
            `hasFolder ${folder}`,
          );
        } else if (what === 5) {
          const marks = entries.marks();
          assert.equal(entries.unchanged(path, model.get(path) ?? entry(n), "100644", marks), model.has(path), `unchanged ${path}`);
          assert.equal(marks.has(path), model.has(path), `marked ${path}`);
        } else assert.equal(entries.size, model.size, "size");
      }
      assert.equal(entries.size, model.size);
      assert.deepEqual(new Map(entries), model, `trial ${trial}`);
    }
  });
});
