import type { Stats } from "node:fs";
import { mkdir, readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { writeFileAtomic } from "./atomic-file.ts";

/**
 * What the agent last knew about each file of the folder: the git blob (mode + oid) the file is in the
 * tree of `commit`, and the stat fields it had when that was established. A file whose stat fields still
 * match is not read again (git's index does the same), so a scan of an unchanged folder costs one lstat
 * per file and no reads. Kept in `.git/cloudbridge/stat-cache.json`, replaced atomically.
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

/** One entry as the cache file holds it; the 8th field (annexed) is optional, so older caches still load. */
type StoredEntry = [string, string, string, number, number, number, number, (string | 0)?];

const FORMAT = 1;

/** The cache of the folder whose agent state is in `stateDir` (`.git/cloudbridge`). */
export function statCacheFile(stateDir: string): string {
  return join(stateDir, "stat-cache.json");
}

/**
 * The entry of a file whose content was just put in place of its pointer (same blob in the tree, new
 * stat). Racy: the content was written a moment ago, within the file system's timestamp granularity.
 */
export function placedEntry(entry: CacheEntry, placed: Stats): CacheEntry {
  return { ...entry, size: placed.size, mtimeMs: placed.mtimeMs, ino: placed.ino, racy: true };
}

export class StatCache {
  commit: string | undefined;
  /**
   * git's index file as the agent last left it, holding the tree of `commit` (its inode, times and size):
   * while it is unchanged, opening the folder need not rebuild the index from the tree.
   */
  index: string | undefined;
  readonly entries: Map<string, CacheEntry>;
  private readonly file: string;

  private constructor(file: string, commit: string | undefined, entries: Map<string, CacheEntry>) {
    this.file = file;
    this.commit = commit;
    this.entries = entries;
  }

  static async load(file: string): Promise<StatCache> {
    let text: string;
    try {
      text = await readFile(file, "utf8");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return new StatCache(file, undefined, new Map());
      throw error;
    }
    try {
      const data = JSON.parse(text) as {
        format: number;
        index?: string;
        commit: string | null;
        entries: StoredEntry[];
      };
      if (data.format !== FORMAT) return new StatCache(file, undefined, new Map());
      const entries = new Map<string, CacheEntry>();
      for (const [path, mode, oid, size, mtimeMs, ino, flags, annexed] of data.entries) {
        entries.set(path, {
          mode,
          oid,
          size,
          mtimeMs,
          ino,
          ...(flags & 1 ? { racy: true } : {}),
          ...(flags & 2 ? { ghost: true } : {}),
          ...(flags & 4 ? { unwritten: true } : {}),
          ...(annexed === 0 ? { annexed: false } : typeof annexed === "string" ? { annexed } : {}),
        });
      }
      const cache = new StatCache(file, data.commit ?? undefined, entries);
      cache.index = data.index;
      return cache;
    } catch {
      // A damaged cache costs one full re-hash, never correctness: start from nothing.
      return new StatCache(file, undefined, new Map());
    }
  }

  /**
   * Records content another process put in place of a pointer file (`cloudbridge get` beside the
   * daemon's rounds), so the folder's cache keeps describing the file on disk.
   */
  static async recordPlaced(stateDir: string, path: string, placed: Stats): Promise<void> {
    const cache = await StatCache.load(statCacheFile(stateDir));
    const entry = cache.entries.get(path);
    if (!entry || entry.ghost || entry.mode === "120000") return;
    cache.entries.set(path, placedEntry(entry, placed));
    await cache.save();
  }

  async save(): Promise<void> {
    const entries: StoredEntry[] = [];
    for (const [path, e] of this.entries) {
      const stored: StoredEntry = [
        path,
        e.mode,
        e.oid,
        e.size,
        e.mtimeMs,
        e.ino,
        (e.racy ? 1 : 0) | (e.ghost ? 2 : 0) | (e.unwritten ? 4 : 0),
      ];
      if (e.annexed !== undefined) stored.push(e.annexed === false ? 0 : e.annexed);
      entries.push(stored);
    }
    await mkdir(dirname(this.file), { recursive: true });
    await writeFileAtomic(
      this.file,
      JSON.stringify({ format: FORMAT, commit: this.commit ?? null, ...(this.index ? { index: this.index } : {}), entries }),
    );
  }
}
