import type { Dirent, Stats } from "node:fs";
import { lstat, readdir, readlink } from "node:fs/promises";
import { join } from "node:path";
import type { AnnexPort } from "./annex-port.ts";
import { fileSystemNow, isRacy } from "./fs-clock.ts";
import { decodePath, unrepresentableNameReason, type Git } from "../../localgit/index.ts";
import { isGitDirName } from "./safe-paths.ts";
import type { CacheEntry, StatCache } from "./stat-cache.ts";
import { diskLinks, outwardLinks, trackedSymlinks } from "./symlink-resolve.ts";
import { journaledTemporaries } from "../../annex/index.ts";

/**
 * Change detection against the stat cache: one lstat per file, and a read only for files whose stat
 * fields changed (or were racy). Small files become git blobs (`hash-object`, batched),
 * large files go through the annex port and become pointer blobs, symlinks become link blobs.
 */
export interface ScanResult {
  /** path → its new entry, or null when the file is gone. Only paths whose blob or mode changed. */
  changes: Map<string, CacheEntry | null>;
  /** Files looked at. */
  seen: number;
  /** Files read (hashed) because their stat fields changed. */
  hashed: number;
  /**
   * Paths in the folder that are never committed nor uploaded, and why (reported, never silent): symlinks
   * that lead outside the folder (through other links, perhaps), names that are not UTF-8, and a `.git`
   * below the top.
   */
  refused: Array<{ path: string; reason: string }>;
}

export interface ScanOptions {
  /** Scan only these folder-relative paths (files or directories, present or gone); default: everything. */
  paths?: Iterable<string>;
  /** Files whose mtime is this close to the scan's start are re-hashed next time (racy-git). */
  racyWindowMs?: number;
  onProgress?: (seen: number) => void;
}

const PARALLEL_STATS = 128;

/**
 * A `.git` below the top of the folder cannot be synced: git refuses any path with a `.git` component (it
 * is where a repository keeps itself), whether it is a file or the repository of a nested project. The
 * files beside it are synced; it is reported as refused with this reason.
 */
export function nestedGitReason(isDirectory: boolean): string {
  return isDirectory
    ? "it is the repository of a nested git project; git cannot store a path named .git, so it is not synced (the files beside it are)"
    : "git cannot store a path named .git (it is where git keeps a repository); rename it to sync it";
}

export async function scan(
  root: string,
  cache: StatCache,
  git: Git,
  annex: AnnexPort | undefined,
  options: ScanOptions = {},
): Promise<ScanResult> {
  const started = await fileSystemNow(join(root, ".git", "cloudbridge"));
  const racyWindow = options.racyWindowMs ?? 2000;
  const found = new Map<string, Stats>();
  const gone = new Set<string>();
  const nestedGit: Array<{ path: string; reason: string }> = [];
  const badNames: ScanResult["refused"] = [];
  // The agent's own temporaries (this process's and any other cloudbridge process's on this folder).
  const temporaries = await journaledTemporaries(root, join(root, ".git", "cloudbridge"));
  let seen = 0;

  const walk = async (dir: string): Promise<void> => {
    const queue = [dir];
    while (queue.length > 0) {
      const rel = queue.pop()!;
      let entries: DirEntry[];
      try {
        entries = await readdir(rel === "" ? root : join(root, rel), { withFileTypes: true });
        // Node spells a name that is not UTF-8 with U+FFFD, which names another file: read the exact names.
        if (entries.some((entry) => entry.name.includes("\uFFFD"))) entries = await exactNames(root, rel, badNames);
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code === "ENOENT" || code === "ENOTDIR") continue;
        throw error;
      }
      const files: string[] = [];
      for (const entry of entries) {
        const path = rel === "" ? entry.name : `${rel}/${entry.name}`;
        if (temporaries.has(path)) continue;
        if (isGitDirName(entry.name)) {
          if (rel !== "") nestedGit.push({ path, reason: nestedGitReason(entry.isDirectory()) });
          continue;
        }
        if (entry.isDirectory()) queue.push(path);
        else if (entry.isFile() || entry.isSymbolicLink()) files.push(path);
      }
      for (let i = 0; i < files.length; i += PARALLEL_STATS) {
        await Promise.all(
          files.slice(i, i + PARALLEL_STATS).map(async (path) => {
            try {
              found.set(path, await lstat(join(root, path)));
            } catch (error) {
              if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
            }
          }),
        );
      }
      seen += files.length;
      options.onProgress?.(seen);
    }
  };

  const cacheUnder = (prefix: string): string[] => {
    if (prefix === "") return [...cache.entries.keys()];
    const out: string[] = [];
    for (const path of cache.entries.keys()) if (path === prefix || path.startsWith(`${prefix}/`)) out.push(path);
    return out;
  };

  const roots = options.paths ? [...new Set(options.paths)] : [""];
  const realDirectories = new Map<string, Promise<boolean>>();
  for (const rel of roots) {
    if (temporaries.has(rel) || rel.split("/").some(isGitDirName)) continue;
    let stats: Stats | undefined;
    // A path under a symlinked folder is not in the folder: looking at it would read whatever the link leads to.
    if (rel !== "" && (await underRealDirectories(root, rel, realDirectories))) {
      try {
        stats = await lstat(join(root, rel));
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "ENOENT" && (error as NodeJS.ErrnoException).code !== "ENOTDIR") throw error;
      }
    }
    if (rel === "" || stats?.isDirectory()) await walk(rel);
    else if (stats && (stats.isFile() || stats.isSymbolicLink())) {
      found.set(rel, stats);
      seen += 1;
    }
    // Whatever the cache knew under this root and the walk did not find is gone.
    for (const path of cacheUnder(rel)) if (!found.has(path)) gone.add(path);
  }

  const changes = new Map<string, CacheEntry | null>();
  for (const path of gone) {
    const entry = cache.entries.get(path)!;
    // Not on disk on purpose: refused, or a version a read-only folder kept out (nothing was there).
    if (entry.ghost || (entry.unwritten && entry.size === -1)) continue;
    changes.set(path, null);
  }

  const smallFiles: Array<{ path: string; stats: Stats }> = [];
  const others: Array<{ path: string; stats: Stats }> = [];
  for (const [path, stats] of found) {
    const cached = cache.entries.get(path);
    if (
      cached &&
      !cached.racy &&
      !cached.ghost &&
      cached.size === stats.size &&
      cached.mtimeMs === stats.mtimeMs &&
      cached.ino === stats.ino &&
      cached.mode === modeOf(stats)
    ) {
      continue;
    }
    if (stats.isFile() && !(annex?.isLarge(path, stats.size) ?? false)) smallFiles.push({ path, stats });
    else others.push({ path, stats });
  }

  const record = (path: string, stats: Stats, oid: string): void => {
    const entry: CacheEntry = {
      mode: modeOf(stats),
      oid,
      size: stats.size,
      mtimeMs: stats.mtimeMs,
      ino: stats.ino,
      ...(isRacy(stats.mtimeMs, started, racyWindow) ? { racy: true } : {}),
    };
    const cached = cache.entries.get(path);
    if (cached && !cached.ghost && cached.oid === oid && cached.mode === entry.mode) {
      cache.entries.set(path, cached.unwritten ? { ...entry, unwritten: true } : entry);
    } else changes.set(path, entry);
  };

  let oids: Array<string | undefined>;
  try {
    oids = await git.hashFiles(smallFiles.map((f) => join(root, f.path)));
  } catch {
    // A file vanished or became unreadable between lstat and read: hash one by one, the rest waits for the next scan.
    oids = await Promise.all(
      smallFiles.map((f) =>
        git.hashFiles([join(root, f.path)]).then(
          (o) => o[0],
          () => undefined,
        ),
      ),
    );
  }
  smallFiles.forEach((f, i) => {
    if (oids[i]) record(f.path, f.stats, oids[i]);
  });
  const links = new Map<string, string>();
  for (const { path, stats } of others) if (stats.isSymbolicLink()) links.set(path, await readlink(join(root, path)));
  const disk = diskLinks(root);
  const outward = await outwardLinks(links, async (path) => (links.has(path) ? undefined : disk(path)), trackedSymlinks(cache));
  const refused = [...nestedGit, ...badNames, ...[...outward].map(([path, reason]) => ({ path, reason }))];
  for (const { path, stats } of others) if (!outward.has(path)) record(path, stats, await blobOf(root, path, stats, git, annex));
  return { changes, seen, hashed: smallFiles.length + others.length, refused };
}

/** Every folder on the way to `rel` is a real directory (not a symlink, not a file), or absent. */
async function underRealDirectories(root: string, rel: string, known: Map<string, Promise<boolean>>): Promise<boolean> {
  const parts = rel.split("/").slice(0, -1);
  for (let i = 1; i <= parts.length; i++) {
    const dir = parts.slice(0, i).join("/");
    let real = known.get(dir);
    if (real === undefined) {
      real = lstat(join(root, dir)).then(
        (stats) => stats.isDirectory(),
        () => true, // absent: nothing below it exists either, and lstat says so
      );
      known.set(dir, real);
    }
    if (!(await real)) return false;
  }
  return true;
}

type DirEntry = Pick<Dirent, "name" | "isDirectory" | "isFile" | "isSymbolicLink">;

/** A folder's entries by their exact names; the names that are not UTF-8 are listed in `badNames` instead. */
async function exactNames(root: string, rel: string, badNames: ScanResult["refused"]): Promise<DirEntry[]> {
  const entries: DirEntry[] = [];
  for (const entry of await readdir(rel === "" ? root : join(root, rel), { withFileTypes: true, encoding: "buffer" })) {
    const name = decodePath(entry.name);
    const path = rel === "" ? name : `${rel}/${name}`;
    const reason = unrepresentableNameReason(path);
    if (reason) badNames.push({ path, reason });
    else
      entries.push({
        name,
        isDirectory: () => entry.isDirectory(),
        isFile: () => entry.isFile(),
        isSymbolicLink: () => entry.isSymbolicLink(),
      });
  }
  return entries;
}

/** The blob a file on disk stands for in the tree, as a scan would record it. */
export async function blobOf(root: string, path: string, stats: Stats, git: Git, annex: AnnexPort | undefined): Promise<string> {
  const abs = join(root, path);
  if (stats.isSymbolicLink()) return git.hashBlob(await readlink(abs));
  if (annex?.isLarge(path, stats.size)) return git.hashBlob(annex.formatPointer(await annex.ingest(abs, path)));
  return (await git.hashFiles([abs]))[0]!;
}

export function modeOf(stats: Stats): string {
  if (stats.isSymbolicLink()) return "120000";
  return stats.mode & 0o111 ? "100755" : "100644";
}
