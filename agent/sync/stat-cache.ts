import type { Stats } from "node:fs";
import { randomUUID } from "node:crypto";
import { appendFile, mkdir, readFile, rm } from "node:fs/promises";
import { endianness } from "node:os";
import { dirname, join } from "node:path";
import { writeFileAtomic } from "./atomic-file.ts";
import { CacheEntries, type OddFields } from "./cache-entries.ts";

/**
 * What the agent last knew about each file of the folder: the git blob (mode + oid) the file is in the
 * tree of `commit`, and the stat fields it had when that was established. A file whose stat fields still
 * match is not read again (git's index does the same), so a scan of an unchanged folder costs one lstat
 * per file and no reads. Kept in `.git/cloudbridge/stat-cache`, replaced atomically, in columns
 * (cache-entries.ts), with a journal of the entries changed since beside it.
 *
 * Invariant: the oids of all entries are exactly the tree of `commit`, except `unwritten` ones (what is on
 * disk where the tree's version could not be written). A `ghost` entry is in that tree but deliberately not
 * on disk (a path refused by the hostile-tree checks); the scanner leaves it alone.
 */
export interface CacheEntry {
  mode: string;
  oid: string;
  size: number;
  mtimeMs: number;
  ino: number;
  /** Stat fields not trustworthy (written within the file system's timestamp granularity, or unknown): re-hash next scan. */
  racy?: boolean;
  ghost?: boolean;
  /**
   * The tree holds another version (or none) that could not be written here (a read-only folder): the
   * fields describe the file as it is on disk, and every round tries again to bring it to the tree's version.
   */
  unwritten?: boolean;
  /**
   * Whether the blob `oid` is a git-annex pointer: its key, `false` when it is not, absent when not known
   * yet (read once, then kept). The round's reconcile looks only at annexed files, never at every blob.
   */
  annexed?: string | false;
}

/** One entry as a journal line (and a snapshot of format 1) holds it; the 8th field (annexed) is optional. */
type StoredEntry = [string, string, string, number, number, number, number, (string | 0)?];

/**
 * Snapshots are a JSON header line followed by the entries in columns (format 2, cache-entries.ts). A
 * snapshot of format 1 (older versions: JSON, an array per entry, in `stat-cache.json`) is still read, and
 * replaced by the next write.
 */
const FORMAT = 2;

interface SnapshotHeader {
  format: number;
  generation?: string;
  index?: string;
  commit: string | null;
  /** Format 2: the entries in the body, and the byte order of its numbers. */
  count?: number;
  odd?: OddFields[];
  endian?: string;
  /** Format 1: every entry. */
  entries?: StoredEntry[];
}

/** The cache of the folder whose agent state is in `stateDir` (`.git/cloudbridge`). */
export function statCacheFile(stateDir: string): string {
  return join(stateDir, "stat-cache");
}

/** Where versions before format 2 kept the snapshot (read when the cache has no snapshot of its own yet). */
function olderSnapshotFile(cacheFile: string): string {
  return `${cacheFile}.json`;
}

/**
 * The entry of a file whose content was just put in place of its pointer (same blob in the tree, new
 * stat). Racy: the content was written a moment ago, within the file system's timestamp granularity.
 */
export function placedEntry(entry: CacheEntry, placed: Stats): CacheEntry {
  return { ...entry, size: placed.size, mtimeMs: placed.mtimeMs, ino: placed.ino, racy: true };
}

/** A line of the journal: what changed, on top of the snapshot of generation `g` and the lines before. */
interface JournalLine {
  g: string;
  c: string | null;
  i?: string;
  s: StoredEntry[];
  d: string[];
}

/** The journal is folded into a new snapshot past this many lines, or when it grows past a sixteenth of the snapshot (at least JOURNAL_BYTES). */
const JOURNAL_LINES = 500;
const JOURNAL_BYTES = 64 * 1024;

export class StatCache {
  commit: string | undefined;
  /**
   * git's index file as the agent last left it, holding the tree of `commit` (its inode, times and size):
   * while it is unchanged, opening the folder need not rebuild the index from the tree.
   */
  index: string | undefined;
  readonly entries: CacheEntries;
  private readonly file: string;
  /** The snapshot the journal's lines apply to (undefined: no snapshot of this version; the next write makes one). */
  private generation: string | undefined;
  private journalLines = 0;
  private journalBytes = 0;
  private snapshotBytes = 0;

  private constructor(file: string, commit: string | undefined, entries: CacheEntries) {
    this.file = file;
    this.commit = commit;
    entries.changed = new Set();
    this.entries = entries;
  }

  private static empty(file: string): StatCache {
    return new StatCache(file, undefined, new CacheEntries());
  }

  static async load(file: string): Promise<StatCache> {
    let bytes: Buffer | undefined;
    for (const candidate of [file, olderSnapshotFile(file)]) {
      try {
        bytes = await readFile(candidate);
        break;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
      }
    }
    if (!bytes) return StatCache.empty(file);
    let cache: StatCache;
    let older = false;
    try {
      const newline = bytes.indexOf(10);
      const header = JSON.parse(bytes.toString("utf8", 0, newline < 0 ? bytes.length : newline)) as SnapshotHeader;
      let entries: CacheEntries | undefined;
      if (header.format === FORMAT && header.endian === endianness() && newline >= 0)
        entries = CacheEntries.fromSnapshot(header.count!, header.odd ?? [], bytes.subarray(newline + 1));
      else if (header.format === 1 && header.entries) {
        entries = new CacheEntries();
        for (const stored of header.entries) entries.set(stored[0], entryOf(stored));
        older = true;
      }
      if (!entries) return StatCache.empty(file);
      cache = new StatCache(file, header.commit ?? undefined, entries);
      cache.index = header.index;
      cache.generation = header.generation;
      cache.snapshotBytes = bytes.length;
    } catch {
      // A damaged cache costs one full re-hash, never correctness: start from nothing.
      return StatCache.empty(file);
    }
    await cache.replayJournal();
    // A snapshot of an older format: the next write is a whole snapshot in this one.
    if (older) cache.generation = undefined;
    return cache;
  }

  /**
   * Applies the journal's lines written on top of this snapshot, in order. A line cut short (a process
   * killed while appending) ends the replay: the cache is then older than `main`, which the folder's
   * opening repairs (local-repo.ts), and the next write is a whole snapshot.
   */
  private async replayJournal(): Promise<void> {
    let text: string;
    try {
      text = await readFile(journalFile(this.file), "utf8");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return;
      throw error;
    }
    if (this.generation === undefined) return;
    let start = 0;
    for (let end = text.indexOf("\n"); end >= 0; start = end + 1, end = text.indexOf("\n", start)) {
      let line: JournalLine;
      try {
        line = JSON.parse(text.slice(start, end)) as JournalLine;
      } catch {
        break;
      }
      // Lines of an older snapshot: that snapshot was replaced (and the journal with it, but for a crash in between).
      if (line.g !== this.generation) continue;
      for (const path of line.d) this.entries.delete(path);
      for (const stored of line.s) this.entries.set(stored[0], entryOf(stored));
      this.commit = line.c ?? undefined;
      this.index = line.i;
      this.journalLines += 1;
    }
    this.journalBytes = text.length;
    // A line cut short: appending after it would hide every later line, so the next write is a snapshot.
    if (start < text.length) this.journalLines = JOURNAL_LINES;
    this.entries.changed!.clear();
  }

  /**
   * Records content another process put in place of pointer files (`cloudbridge get` beside the daemon's
   * rounds), so the folder's cache keeps describing the files on disk: one load and one save for them all
   * (the load reads the whole cache, so one per file made a `get` of a tree cost files × folder size).
   */
  static async recordPlaced(stateDir: string, placed: ReadonlyMap<string, Stats>): Promise<void> {
    if (placed.size === 0) return;
    const cache = await StatCache.load(statCacheFile(stateDir));
    let changed = false;
    for (const [path, stats] of placed) {
      const entry = cache.entries.get(path);
      if (!entry || entry.ghost || entry.mode === "120000") continue;
      cache.entries.set(path, placedEntry(entry, stats));
      changed = true;
    }
    if (changed) await cache.save();
  }

  /**
   * The journal line of the entries changed since the last write, or undefined as soon as it would take
   * more than `room` bytes (then a snapshot is written instead, and the rest of the line is never made).
   */
  private journalLine(room: number): string | undefined {
    const head = JSON.stringify({ g: this.generation, c: this.commit ?? null, ...(this.index ? { i: this.index } : {}) });
    const stored: string[] = [];
    const deleted: string[] = [];
    let bytes = head.length + 16;
    for (const path of this.entries.changed!) {
      const entry = this.entries.get(path);
      const item = JSON.stringify(entry ? storedOf(path, entry) : path);
      (entry ? stored : deleted).push(item);
      bytes += item.length + 1;
      if (bytes > room) return undefined;
    }
    // As JSON.stringify writes a JournalLine: {"g":…,"c":…,"i":…,"s":[…],"d":[…]}
    return `${head.slice(0, -1)},"s":[${stored.join(",")}],"d":[${deleted.join(",")}]}\n`;
  }

  /**
   * Writes what changed since the last write: a line appended to the journal when few entries changed,
   * a whole new snapshot (replacing the journal) otherwise, or when the journal grew long.
   */
  async save(): Promise<void> {
    const entries = this.entries;
    const changed = entries.changed!;
    let text: string | undefined;
    // Every later open reads the whole journal again (a sync with no daemon: ~4 ms per 100 KB at every
    // run), so it is kept to a sixteenth of the snapshot; past that one snapshot is written instead.
    const room = Math.max(this.snapshotBytes / 16, JOURNAL_BYTES) - this.journalBytes;
    if (
      this.generation !== undefined &&
      !entries.cleared &&
      this.journalLines < JOURNAL_LINES &&
      changed.size <= Math.max(1000, entries.size / 8)
    )
      text = this.journalLine(room);
    await mkdir(dirname(this.file), { recursive: true });
    if (text !== undefined) {
      await appendFile(journalFile(this.file), text);
      this.journalLines += 1;
      this.journalBytes += text.length;
    } else {
      const generation = randomUUID();
      const { count, odd, body } = entries.toSnapshot();
      const header: SnapshotHeader = {
        format: FORMAT,
        generation,
        commit: this.commit ?? null,
        ...(this.index ? { index: this.index } : {}),
        count,
        odd,
        endian: endianness(),
      };
      const bytes = Buffer.concat([Buffer.from(`${JSON.stringify(header)}\n`), body]);
      await writeFileAtomic(this.file, bytes);
      // The old journal's lines name the old generation: ignored even if this removal never happens.
      await rm(journalFile(this.file), { force: true });
      await rm(olderSnapshotFile(this.file), { force: true });
      this.generation = generation;
      this.snapshotBytes = bytes.length;
      this.journalLines = 0;
      this.journalBytes = 0;
      entries.cleared = false;
    }
    changed.clear();
  }
}

/** Beside the snapshot: the changes written since, one JSON line per write. */
export function journalFile(cacheFile: string): string {
  return `${cacheFile}.journal`;
}

function storedOf(path: string, e: CacheEntry): StoredEntry {
  const stored: StoredEntry = [path, e.mode, e.oid, e.size, e.mtimeMs, e.ino, (e.racy ? 1 : 0) | (e.ghost ? 2 : 0) | (e.unwritten ? 4 : 0)];
  if (e.annexed !== undefined) stored.push(e.annexed === false ? 0 : e.annexed);
  return stored;
}

function entryOf([, mode, oid, size, mtimeMs, ino, flags, annexed]: StoredEntry): CacheEntry {
  const entry: CacheEntry = { mode, oid, size, mtimeMs, ino };
  if (flags & 1) entry.racy = true;
  if (flags & 2) entry.ghost = true;
  if (flags & 4) entry.unwritten = true;
  if (annexed === 0) entry.annexed = false;
  else if (typeof annexed === "string") entry.annexed = annexed;
  return entry;
}
