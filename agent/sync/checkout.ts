import type { Stats } from "node:fs";
import { chmod, lstat, mkdir, rename, rm, rmdir, symlink, unlink, utimes, writeFile } from "node:fs/promises";
import { join, posix } from "node:path";
import type { AnnexPort } from "./annex-port.ts";
import { fileSystemNow } from "./fs-clock.ts";
import { BlobReader, treeChanges, type Git } from "../../localgit/index.ts";
import { unsafePathReason, unsafeSymlinkReason, type Platform } from "./safe-paths.ts";
import { fileBlob, modeOf } from "./scanner.ts";
import { sameFile, settled, tempPathFor } from "../../annex/index.ts";
import type { CacheEntry, StatCache } from "./stat-cache.ts";
import { diskLinks, outwardLinks, trackedSymlinks } from "./symlink-resolve.ts";

/**
 * Brings the folder from the tree of `cache.commit` to the tree of `target`, one file at a time, each
 * write atomic. Every path is checked first (safe-paths.ts); a refused path is reported and kept as a
 * "ghost" (in the tree, never on disk). A file the person changed since the last scan is never
 * overwritten or deleted: it is left as it is and the next scan commits it on top (the incoming version
 * stays in history). Directories are entered only when they are real directories, never through a symlink,
 * and a symlink is written only when it leads inside the folder, followed through the other symlinks.
 */
export interface CheckoutResult {
  written: number;
  deleted: number;
  /** The paths written or deleted, in that order (what a log line names). */
  changed: string[];
  /** Paths left alone because they changed locally meanwhile; the next round picks them up. */
  skipped: string[];
  refused: Array<{ path: string; reason: string }>;
  /** Paths this machine could not write (read-only, no permission): left as they are, tried again next time. */
  unwritable: Array<{ path: string; reason: string }>;
  /** Annexed files whose content is not here yet (a pointer file was written in their place). */
  missingContent: Array<{ path: string; key: string }>;
  /** The paths whose tree entry differs between the two commits (what an index of the old tree needs to become the new). */
  treeChanges: ReadonlyArray<{ path: string; newMode: string; newOid: string; deleted: boolean }>;
}

export interface CheckoutOptions {
  annex?: AnnexPort;
  platform?: Platform;
  racyWindowMs?: number;
  /** Modification times to give the files written (path → ms since 1970); others get the time of writing. */
  mtimes?: ReadonlyMap<string, number> | Promise<ReadonlyMap<string, number> | undefined>;
  /** Called after each path handled: how many of how many (a bulk change from another machine shows progress). */
  onProgress?: (done: number, total: number) => void;
  /** A `cat-file --batch` already running on the repository (the folder's own); else one is started for this checkout. */
  reader?: BlobReader;
}

interface DiffRecord {
  path: string;
  newMode: string;
  newOid: string;
  deleted: boolean;
}

export async function checkout(
  root: string,
  git: Git,
  cache: StatCache,
  target: string,
  options: CheckoutOptions = {},
): Promise<CheckoutResult> {
  // Its own reader is closed at the end; kept open (nothing waits on it while idle) should a step before that fail.
  const reader = options.reader ?? new BlobReader(git.gitDir, { keptOpen: true });
  const [diff, mtimes] = await Promise.all([treeDiff(git, reader, cache.commit, target), options.mtimes]).catch(async (error) => {
    if (!options.reader) await reader.close();
    throw error;
  });
  const result: CheckoutResult = {
    written: 0,
    deleted: 0,
    changed: [],
    skipped: [],
    refused: [],
    unwritable: [],
    missingContent: [],
    treeChanges: diff,
  };
  const records = [...diff, ...(await unwrittenRecords(git, cache, target, diff))];
  const started = await fileSystemNow(join(root, ".git", "cloudbridge"));
  const racyWindow = options.racyWindowMs ?? 2000;

  const unchangedOnDisk = async (path: string, stats: Stats | undefined): Promise<boolean> => {
    const cached = cache.entries.get(path);
    // Nothing there, as expected: never written (refused, or kept out by a read-only folder).
    if (!cached || cached.ghost || (cached.unwritten && cached.size === -1)) return stats === undefined;
    if (stats === undefined || stats.isDirectory()) return false;
    if (!cached.racy && cached.size === stats.size && cached.mtimeMs === stats.mtimeMs && cached.ino === stats.ino) return true;
    // Stat fields cannot tell (written moments ago): compare the content itself.
    return modeOf(stats) === cached.mode && (await fileBlob(root, path, stats, git, options.annex, cached.annexed)).oid === cached.oid;
  };
  const statOrUndefined = (path: string) => lstat(join(root, path)).catch(() => undefined);
  const remember = async (path: string, oid: string, annexed: CacheEntry["annexed"], racy = false): Promise<void> => {
    const stats = await lstat(join(root, path));
    const entry: CacheEntry = { mode: modeOf(stats), oid, size: stats.size, mtimeMs: stats.mtimeMs, ino: stats.ino };
    if (annexed !== undefined) entry.annexed = annexed;
    // Written by this checkout, so stamped at or after its start (by the file system's clock): racy.
    if (racy || stats.mtimeMs > started - racyWindow) entry.racy = true;
    cache.entries.set(path, entry);
  };
  /** The cache says the tree now holds `oid` here, while the disk holds something the next scan must look at. */
  const keepLocal = (path: string, record: DiffRecord): void => {
    const cached = cache.entries.get(path);
    result.skipped.push(path);
    if (record.deleted) cache.entries.delete(path);
    else cache.entries.set(path, { mode: record.newMode, oid: record.newOid, size: -1, mtimeMs: -1, ino: cached?.ino ?? -1, racy: true });
  };

  /**
   * A path this machine cannot write (a read-only mount, a folder without write permission) is reported and
   * skipped; the cache keeps describing what is on disk, flagged, so the scan does not take the old file for
   * a local change, and later rounds try again. Everything else goes on.
   */
  const unwritableIsSkipped = async (record: DiffRecord, work: () => Promise<void>): Promise<void> => {
    try {
      await work();
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== "EROFS" && code !== "EACCES" && code !== "EPERM") throw error;
      await removeTemporaries(record.path);
      const cached = cache.entries.get(record.path);
      const stats = await statOrUndefined(record.path);
      if (cached && !cached.ghost && stats && !stats.isDirectory()) cache.entries.set(record.path, { ...cached, unwritten: true });
      else if (!stats)
        cache.entries.set(record.path, { mode: record.newMode, oid: record.newOid, size: -1, mtimeMs: -1, ino: -1, unwritten: true });
      result.unwritable.push({
        path: record.path,
        reason: `${code === "EROFS" ? "the file system is read-only" : "permission denied"} (${code}); it is tried again at each sync`,
      });
    }
  };
  const temporaries = new Map<string, string>();
  const removeTemporaries = async (path: string): Promise<void> => {
    const temp = temporaries.get(path);
    temporaries.delete(path);
    if (!temp) return;
    await rm(temp, { force: true }).catch(() => undefined);
    settled(temp);
  };

  try {
    // Deletions first, deepest first, so a directory can become a file.
    const deletions = records.filter((d) => d.deleted).sort((a, b) => b.path.length - a.path.length);
    const deleteOne = async (record: DiffRecord): Promise<void> => {
      const cached = cache.entries.get(record.path);
      if (cached?.ghost || unsafePathReason(record.path, options.platform)) {
        cache.entries.delete(record.path);
        return;
      }
      const stats = await statOrUndefined(record.path);
      if (stats === undefined) {
        cache.entries.delete(record.path);
        return;
      }
      if (!(await unchangedOnDisk(record.path, stats)) || !(await parentsAreDirectories(root, record.path))) {
        keepLocal(record.path, record);
        return;
      }
      if (!sameFile(await statOrUndefined(record.path), stats)) {
        keepLocal(record.path, record); // edited while it was being checked
        return;
      }
      await unlink(join(root, record.path));
      cache.entries.delete(record.path);
      result.deleted += 1;
      result.changed.push(record.path);
      await removeEmptyParents(root, record.path);
    };

    // Symlinks are judged by where they lead in the folder as it will be, through each other and the links on disk.
    const incomingLinks = new Map<string, string>();
    for (const record of records) {
      if (record.deleted || record.newMode !== "120000" || unsafePathReason(record.path, options.platform)) continue;
      const blob = await reader.read(record.newOid);
      if (blob) incomingLinks.set(record.path, blob.toString());
    }
    const outward = await outwardLinks(incomingLinks, diskLinks(root), trackedSymlinks(cache));

    const writeOne = async (record: DiffRecord): Promise<void> => {
      const { path } = record;
      const refuse = (reason: string): void => {
        result.refused.push({ path, reason });
        cache.entries.set(path, { mode: record.newMode, oid: record.newOid, size: -1, mtimeMs: -1, ino: -1, ghost: true });
      };
      const reason =
        unsafePathReason(path, options.platform) ??
        (record.newMode === "160000" ? "it is a git submodule, which cloudbridge does not sync" : undefined);
      if (reason) {
        refuse(reason);
        return;
      }
      if (!(await parentsAreDirectories(root, path, true))) {
        // A parent is a symlink or a file: entering it could lead outside the folder or clobber a file.
        const parentIsTracked = [...ancestors(path)].some((a) => cache.entries.has(a) && !cache.entries.get(a)!.ghost);
        if (parentIsTracked) keepLocal(path, record);
        else refuse("a folder on its path is a symlink or a file on this machine");
        return;
      }
      const stats = await statOrUndefined(path);
      if (stats?.isDirectory() || !(await unchangedOnDisk(path, stats))) {
        keepLocal(path, record);
        return;
      }
      const blob = await reader.read(record.newOid);
      if (!blob)
        throw new Error(`the object ${record.newOid} for ${JSON.stringify(path)} is missing from the repository; run \`git fsck\``);
      const dest = join(root, path);
      // Everything is prepared in a temporary file next to `dest`; just before it replaces `dest`, the file
      // is looked at again, so an edit made while the content was being prepared is not overwritten.
      const temp = tempPathFor(dest);
      temporaries.set(path, temp);
      let missingKey: string | undefined;
      if (record.newMode === "120000") {
        const target = blob.toString();
        const linkReason = unsafeSymlinkReason(path, target) ?? outward.get(path);
        if (linkReason) {
          refuse(linkReason);
          return;
        }
        await symlink(target, temp);
      } else {
        const mode = record.newMode === "100755" ? 0o755 : 0o644;
        const key = options.annex?.parsePointer(blob);
        // A pointer file stands in for content that is not here yet; it hashes to the pointer blob.
        if (key === undefined || !(await options.annex!.materialize(key, temp, mode))) {
          await writeFile(temp, blob, { mode, flag: "wx" });
          await chmod(temp, mode);
          if (key !== undefined) missingKey = key;
        }
      }
      if (!sameFile(await statOrUndefined(path), stats)) {
        await removeTemporaries(path);
        keepLocal(path, record);
        return;
      }
      await rename(temp, dest);
      temporaries.delete(path);
      settled(temp);
      const mtime = record.newMode === "120000" ? undefined : mtimes?.get(path);
      if (mtime !== undefined) await utimes(dest, new Date(), new Date(mtime)).catch(() => undefined);
      if (missingKey !== undefined) result.missingContent.push({ path, key: missingKey });
      // Written just now whatever time it carries: the next scan reads it once (a save during the write).
      // Whether the blob is a pointer is known now that it was read (without an annex port nothing was parsed).
      const annexed = record.newMode === "120000" ? false : options.annex ? (options.annex.parsePointer(blob) ?? false) : undefined;
      await remember(path, record.newOid, annexed, mtime !== undefined);
      result.written += 1;
      result.changed.push(path);
    };

    let done = 0;
    const progress = () => options.onProgress?.(++done, records.length);
    for (const record of deletions) await unwritableIsSkipped(record, () => deleteOne(record)).then(progress);
    for (const record of records.filter((d) => !d.deleted)) await unwritableIsSkipped(record, () => writeOne(record)).then(progress);
  } finally {
    if (!options.reader) await reader.close();
  }
  cache.commit = target;
  return result;
}

/** Paths that could not be written before and that this checkout does not touch anyway: brought to `target`'s version. */
async function unwrittenRecords(git: Git, cache: StatCache, target: string, diff: DiffRecord[]): Promise<DiffRecord[]> {
  if (!cache.entries.anyUnwritten()) return [];
  const pending = [...cache.entries].filter(([, entry]) => entry.unwritten).map(([path]) => path);
  const inDiff = new Set(diff.map((d) => d.path));
  const tree = await git.lsTree(target);
  return pending
    .filter((path) => !inDiff.has(path))
    .map((path) => {
      const entry = tree.get(path);
      return entry ? { path, newMode: entry.mode, newOid: entry.oid, deleted: false } : { path, newMode: "", newOid: "", deleted: true };
    });
}

/** Files added, changed or deleted from tree `from` (none: empty) to `to`: only the trees that differ are read. */
async function treeDiff(git: Git, reader: BlobReader, from: string | undefined, to: string): Promise<DiffRecord[]> {
  if (from)
    return (await treeChanges(reader, `${from}^{tree}`, `${to}^{tree}`)).map((c) => ({
      path: c.path,
      newMode: c.mode,
      newOid: c.oid,
      deleted: c.deleted,
    }));
  return [...(await git.lsTree(to))].map(([path, e]) => ({ path, newMode: e.mode, newOid: e.oid, deleted: false }));
}

function* ancestors(path: string): Generator<string> {
  for (let d = posix.dirname(path); d !== "."; d = posix.dirname(d)) yield d;
}

/** Every folder on the way to `path` is a real directory (or absent, and then created when `create`). */
async function parentsAreDirectories(root: string, path: string, create = false): Promise<boolean> {
  const parts = path.split("/").slice(0, -1);
  let current = root;
  for (const part of parts) {
    current = join(current, part);
    const stats = await lstat(current).catch(() => undefined);
    if (stats === undefined) {
      if (!create) return true;
      await mkdir(current);
      continue;
    }
    if (!stats.isDirectory()) return false;
  }
  return true;
}

async function removeEmptyParents(root: string, path: string): Promise<void> {
  for (let d = posix.dirname(path); d !== "."; d = posix.dirname(d)) {
    try {
      await rmdir(join(root, d));
    } catch {
      return;
    }
  }
}
