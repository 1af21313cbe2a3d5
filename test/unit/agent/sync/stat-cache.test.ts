import assert from "node:assert/strict";
import { appendFile, readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
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
