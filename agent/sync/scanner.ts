import { lstatSync, type Dirent, type Stats } from "node:fs";
import { lstat, open, readdir, readlink } from "node:fs/promises";
import { join } from "node:path";
import type { AnnexPort } from "./annex-port.ts";
import { fileSystemNow, isRacy } from "./fs-clock.ts";
import { decodePath, unrepresentableNameReason, type Git } from "../../localgit/index.ts";
import { FolderIgnore, isIgnoreFileName } from "./ignore-rules.ts";
import { isGitDirName, unportableNameReason } from "./safe-paths.ts";
import type { CacheEntry, StatCache } from "./stat-cache.ts";
import { diskLinks, outwardLinks, trackedSymlinks } from "./symlink-resolve.ts";
import { journaledTemporaries, mayBePointerSize, parsePointer, readPointerFile } from "../../annex/index.ts";
import { PACK_AT_LEAST, packFileBlobs, writeBlobs } from "./blob-pack.ts";

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
   * that lead outside the folder (through other links, perhaps), names that are not UTF-8 or hold a control
   * character, a `.git` below the top, files and folders this process cannot read.
   */
  refused: Array<{ path: string; reason: string }>;
  /** Files still being written (changed within the settle time): left for a later look, `dueInMs` from now. */
  settling: Array<{ path: string; dueInMs: number }>;
}

/**
 * Files finish before they travel: a file changed less than `quietMs` ago (by the file system's clock) is
 * not committed yet while it may still be written, so a file written over several seconds becomes one
 * version, not one per look. Where the system tells (`openForWriting`, Linux), a young file waits only while
 * a process has it open for writing: a file closed by its writer is finished and travels at once (a saved
 * file is not held back); elsewhere every young file waits. A file that never stops changing (a log) is committed anyway
 * once it has waited `maxWaitMs`. `waitingSince` (path → when it was first found unsettled, by this
 * machine's clock) is kept by the caller between scans.
 */
export interface SettleOptions {
  quietMs: number;
  maxWaitMs: number;
  waitingSince: Map<string, number>;
  openForWriting?: (absolutePaths: readonly string[]) => Promise<Set<string> | undefined>;
}

export interface ScanOptions {
  /** Scan only these folder-relative paths (files or directories, present or gone); default: everything. */
  paths?: Iterable<string>;
  /**
   * Of `paths`, the files whose stat fields another look found changed (git's index, which compares the
   * ctime too): hashed even when the stat cache's fields still match.
   */
  rehash?: ReadonlySet<string>;
  /** Files whose mtime is this close to the scan's start are re-hashed next time (racy-git). */
  racyWindowMs?: number;
  onProgress?: (seen: number) => void;
  /** The folder's ignore rules (default: read from the folder itself; `false`: none). */
  ignore?: FolderIgnore | false;
  /** Wait for files to settle before committing them (the daemon); default: take them as they are. */
  settle?: SettleOptions;
}

const PARALLEL_STATS = 128;
/** Files larger than this are left to `hash-object`, which streams them (the pack holds each file whole in memory once). */
const PACK_FILE_BYTES = 8 * 1024 * 1024;
const LSTAT_OPTIONS = { throwIfNoEntry: false } as const;

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
  /** Files on disk whose stat fields differ from the cache's (or that it does not know): looked at below. */
  const found = new Map<string, Stats>();
  /**
   * The tracked files found on disk, a bit each: not their stat nor their path (a scan of 100,000
   * unchanged files then allocates next to nothing that outlives one folder).
   */
  const onDisk = cache.entries.marks();
  const note = (path: string, stats: Stats): void => {
    if (!cache.entries.unchanged(path, stats, modeOf(stats), onDisk) || options.rehash?.has(path)) found.set(path, stats);
  };
  const gone = new Set<string>();
  const nestedGit: Array<{ path: string; reason: string }> = [];
  const badNames: ScanResult["refused"] = [];
  const unreadable: ScanResult["refused"] = [];
  /** Folders that could not be listed: what the cache knows below them is not gone, only out of sight. */
  const unlisted: string[] = [];
  const ignore = options.ignore === false ? undefined : (options.ignore ?? new FolderIgnore(root));
  // A full scan reads the rules afresh; a scan of some paths re-reads them when an ignore file is among them.
  if (ignore && (!options.paths || [...options.paths].some((p) => isIgnoreFileName(p.slice(p.lastIndexOf("/") + 1))))) ignore.reset();
  /** Tracked files and the folders above them: ignore rules never hide what is already synced. */
  const isTracked = (path: string): boolean => cache.entries.has(path) || cache.entries.hasFolder(path);
  /** Why a path found on disk is left out (ignored: "ignored"; a refused name: its reason), or undefined to sync it. */
  const leftOut = (path: string, name: string, isDirectory: boolean): string | undefined => {
    if (isTracked(path)) return undefined;
    if (ignore?.ignores(path, isDirectory)) return "ignored";
    return unportableNameReason(name);
  };
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
        const reason = unreadableReason(error, true);
        if (!reason) throw error;
        // One folder this process cannot list is reported; the rest of the folder syncs.
        unreadable.push({ path: rel === "" ? "." : rel, reason });
        unlisted.push(rel);
        continue;
      }
      const files: string[] = [];
      for (const entry of entries) {
        const path = rel === "" ? entry.name : `${rel}/${entry.name}`;
        if (temporaries.has(path)) continue;
        if (isGitDirName(entry.name)) {
          if (rel !== "") nestedGit.push({ path, reason: nestedGitReason(entry.isDirectory()) });
          continue;
        }
        const out =
          entry.isDirectory() || entry.isFile() || entry.isSymbolicLink() ? leftOut(path, entry.name, entry.isDirectory()) : undefined;
        if (out === "ignored") continue;
        if (out) {
          badNames.push({ path, reason: out });
          continue;
        }
        if (entry.isDirectory()) queue.push(path);
        else if (entry.isFile() || entry.isSymbolicLink()) files.push(path);
      }
      // One folder's files at a time, synchronously: an lstat answered from the kernel's cache costs a few
      // microseconds, and a promise per file through the thread pool several times that. Between folders
      // the event loop runs (a daemon keeps answering while it scans).
      for (const path of files) {
        try {
          const stats = lstatSync(`${root}/${path}`, LSTAT_OPTIONS);
          if (stats) note(path, stats);
        } catch (error) {
          const reason = unreadableReason(error, false);
          if (!reason) throw error;
          unreadable.push({ path, reason });
        }
      }
      seen += files.length;
      options.onProgress?.(seen);
      await new Promise(setImmediate);
    }
  };

  function* cacheUnder(prefix: string): Generator<string> {
    // A tracked file has nothing below it (a tree cannot hold both `a` and `a/b`).
    if (prefix !== "" && cache.entries.has(prefix)) {
      yield prefix;
      return;
    }
    // Nothing tracked below it (a new file, the usual watcher path): no look along every path.
    if (prefix !== "" && !cache.entries.hasFolder(prefix)) return;
    for (const path of cache.entries.keys()) if (prefix === "" || path === prefix || path.startsWith(`${prefix}/`)) yield path;
  }

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
    const out = stats && rel !== "" ? leftOut(rel, rel.slice(rel.lastIndexOf("/") + 1), stats.isDirectory()) : undefined;
    if (out && out !== "ignored") badNames.push({ path: rel, reason: out });
    else if (out) {
      // ignored, and nothing under it is tracked: nothing to do
    } else if (rel === "" || stats?.isDirectory()) await walk(rel);
    else if (stats && (stats.isFile() || stats.isSymbolicLink())) {
      note(rel, stats);
      seen += 1;
    }
    // Whatever the cache knew under this root and the walk did not find is gone (unless it is out of sight).
    const outOfSight = (path: string) => unlisted.some((dir) => dir === "" || path.startsWith(`${dir}/`));
    for (const path of cacheUnder(rel)) if (!onDisk.has(path) && !outOfSight(path)) gone.add(path);
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
  const settling: ScanResult["settling"] = [];
  const settle = options.settle;
  const now = Date.now();
  // The last write (or rename, or chmod) by the file system's own clock, as the racy-git rule measures.
  const ageOf = (stats: Stats) => Math.abs(started - Math.max(stats.mtimeMs, stats.ctimeMs));
  const young: string[] = [];
  if (settle)
    for (const [path, stats] of found) {
      const cached = cache.entries.get(path);
      if (stats.isFile() && ageOf(stats) < settle.quietMs && !(cached && cached.size === stats.size && cached.mtimeMs === stats.mtimeMs))
        young.push(path);
    }
  const record = (path: string, stats: Stats, oid: string, annexed: CacheEntry["annexed"]): void => {
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
      // Same blob: what is known of it stays known.
      const known = annexed ?? cached.annexed;
      cache.entries.set(path, {
        ...entry,
        ...(known !== undefined ? { annexed: known } : {}),
        ...(cached.unwritten ? { unwritten: true } : {}),
      });
    } else changes.set(path, annexed !== undefined ? { ...entry, annexed } : entry);
  };

  // Whether a writer still holds a young file is asked of the system (a look through /proc: tens of
  // milliseconds on a busy machine) while the small ones are hashed, not before: a hash that turns out
  // not to be needed is one loose object too many, never a commit.
  const youngSet = new Set(young);
  const beingWrittenAsked: Promise<Set<string> | undefined> =
    settle && young.length > 0
      ? (settle.openForWriting ?? (async () => undefined))(young.map((p) => join(root, p)))
      : Promise.resolve(undefined);
  const isSmall = (path: string, stats: Stats) =>
    stats.isFile() && !(annex !== undefined && goesToAnnex(annex, path, stats, cache.entries.get(path)?.annexed));
  /** Young files: committed or left to settle once the system said whether they are still being written. */
  const held: Array<{ path: string; stats: Stats }> = [];
  for (const [path, stats] of found) {
    if (settle && stats.isFile()) {
      if (youngSet.has(path)) {
        held.push({ path, stats });
        continue;
      }
      settle.waitingSince.delete(path);
    }
    if (isSmall(path, stats)) smallFiles.push({ path, stats });
    else others.push({ path, stats });
  }

  /** Keys of the pointer-size files whose bytes were read here: the key each names, or false (no pointer). */
  const pointerKeys = new Map<string, string | false>();
  /** The blob ids of small files (one git process), undefined for one that vanished or cannot be read (listed). */
  const hashLoose = async (files: ReadonlyArray<{ path: string; stats: Stats }>): Promise<Array<string | undefined>> => {
    if (files.length === 0) return [];
    try {
      return await git.hashFiles(files.map((f) => join(root, f.path)));
    } catch {
      // A file vanished or cannot be read: hash one by one; an unreadable one is listed, a vanished one is not.
      const oids: Array<string | undefined> = [];
      for (let i = 0; i < files.length; i += PARALLEL_STATS) {
        const batch = files.slice(i, i + PARALLEL_STATS);
        oids.push(
          ...(await Promise.all(
            batch.map(async (f) => {
              try {
                return (await git.hashFiles([join(root, f.path)]))[0];
              } catch {
                // Unreadable: listed. Vanished or replaced meanwhile: the next scan looks again.
                const reason = await whyUnreadable(join(root, f.path));
                if (reason) unreadable.push({ path: f.path, reason });
                return undefined;
              }
            }),
          )),
        );
      }
      return oids;
    }
  };
  /**
   * Many files (an import, a folder copied in) go into one pack instead of a loose object each
   * (blob-pack.ts); their bytes pass through here, so the pointer-size ones are known to be pointers or
   * not at once instead of read back from git later.
   */
  const hashSmallFiles = async (files: ReadonlyArray<{ path: string; stats: Stats }>): Promise<Array<string | undefined>> => {
    if (files.length < PACK_AT_LEAST) return hashLoose(files);
    const oids = new Array<string | undefined>(files.length);
    const packable: number[] = [];
    const loose: number[] = [];
    files.forEach((f, i) => (f.stats.size <= PACK_FILE_BYTES ? packable : loose).push(i));
    const packed = await packFileBlobs(
      git.gitDir,
      packable.map((i) => join(root, files[i]!.path)),
      (k, content) => {
        if (mayBePointerSize(content.length)) pointerKeys.set(files[packable[k]!]!.path, parsePointer(content) ?? false);
      },
    );
    packed.forEach((result, k) => {
      const file = files[packable[k]!]!;
      if (typeof result === "string") oids[packable[k]!] = result;
      else {
        // Replaced by a link, a folder or nothing since it was looked at: the next scan looks again.
        const reason = result.code === "ELOOP" ? undefined : unreadableReason(result, false);
        if (reason) unreadable.push({ path: file.path, reason });
      }
    });
    const rest = await hashLoose(loose.map((i) => files[i]!));
    loose.forEach((i, k) => (oids[i] = rest[k]));
    return oids;
  };
  const heldSmall = held.filter(({ path, stats }) => isSmall(path, stats));
  const [beingWritten, hashedSmall] = await Promise.all([beingWrittenAsked, hashSmallFiles([...smallFiles, ...heldSmall])]);
  const heldOids = new Map(heldSmall.map((f, i) => [f.path, hashedSmall[smallFiles.length + i]]));
  const oids = hashedSmall.slice(0, smallFiles.length);
  for (const { path, stats } of held) {
    const age = ageOf(stats);
    const since = settle!.waitingSince.get(path) ?? now;
    // Unknown (not Linux): every young file waits; known: only one a process still has open for writing.
    const waits = beingWritten === undefined || beingWritten.has(join(root, path));
    if (waits && now - since < settle!.maxWaitMs) {
      settle!.waitingSince.set(path, since);
      settling.push({ path, dueInMs: Math.max(0, Math.min(settle!.quietMs - age, settle!.maxWaitMs - (now - since))) + 50 });
      continue;
    }
    settle!.waitingSince.delete(path);
    if (!heldOids.has(path)) others.push({ path, stats });
    else {
      smallFiles.push({ path, stats });
      oids.push(heldOids.get(path));
    }
  }

  smallFiles.forEach((f, i) => {
    // A small file is committed as it is: only one of a pointer's size may be a pointer someone wrote by hand.
    if (oids[i]) record(f.path, f.stats, oids[i], pointerKeys.get(f.path) ?? (mayBePointerSize(f.stats.size) ? undefined : false));
  });
  const links = new Map<string, string>();
  for (const { path, stats } of others) if (stats.isSymbolicLink()) links.set(path, await readlink(join(root, path)));
  const disk = diskLinks(root);
  const outward = await outwardLinks(links, async (path) => (links.has(path) ? undefined : disk(path)), trackedSymlinks(cache));
  // Links and annexed files: the blobs standing for them are written together, by one git process (or as
  // one pack, when there are thousands), not one `hash-object` each.
  const standIns: Array<{ path: string; stats: Stats; content: Buffer; annexed: CacheEntry["annexed"] }> = [];
  for (const { path, stats } of others) {
    if (outward.has(path)) continue;
    try {
      const annexedAs = cache.entries.get(path)?.annexed;
      const stand = await standInBlob(root, path, stats, annex, links.get(path), annexedAs);
      if (stand) standIns.push({ path, stats, ...stand });
      else {
        const blob = await fileBlob(root, path, stats, git, annex, annexedAs);
        record(path, stats, blob.oid, blob.annexed);
      }
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === "ENOENT") continue;
      const reason = unreadableReason(error, false);
      if (!reason) throw error;
      unreadable.push({ path, reason });
    }
  }
  const standInIds = await writeBlobs(
    git.gitDir,
    standIns.map((s) => s.content),
  );
  standIns.forEach((s, i) => record(s.path, s.stats, standInIds[i]!, s.annexed));
  const refused = [...nestedGit, ...badNames, ...unreadable, ...[...outward].map(([path, reason]) => ({ path, reason }))];
  return { changes, seen, hashed: smallFiles.length + others.length, refused, settling };
}

/** Why reading failed, in words a person acts on, for the errors that are about this file (undefined: another trouble). */
function unreadableReason(error: unknown, isDirectory: boolean): string | undefined {
  const code = (error as NodeJS.ErrnoException).code;
  const what = isDirectory ? "this folder cannot be listed" : "this file cannot be read";
  if (code === "EACCES" || code === "EPERM")
    return `${what} by the agent (permission denied, ${code}); nothing of it is uploaded until its permissions let the agent read it${isDirectory ? ", and what was synced inside stays as it is" : ""}`;
  if (code === "EIO") return `${what}: the disk reports an input/output error (EIO)`;
  if (code === "ELOOP" || code === "ENAMETOOLONG") return `${what}: its path is too long or loops (${code})`;
  return undefined;
}

/** Opens the file to learn why reading it fails: a reason, or undefined when it opens (or is gone). */
async function whyUnreadable(abs: string): Promise<string | undefined> {
  try {
    await (await open(abs, "r")).close();
    return undefined;
  } catch (error) {
    return unreadableReason(error, false);
  }
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

/** A file's blob, and whether it is an annex pointer (see CacheEntry.annexed). */
interface FileBlob {
  oid: string;
  annexed: CacheEntry["annexed"];
}

/**
 * The blob a file on disk stands for in the tree, as a scan would record it, and whether it is an annex
 * pointer. `annexedAs`: what the stat cache knows of the file (its key when it is annexed): see goesToAnnex.
 */
export async function fileBlob(
  root: string,
  path: string,
  stats: Stats,
  git: Git,
  annex: AnnexPort | undefined,
  annexedAs?: CacheEntry["annexed"],
): Promise<FileBlob> {
  const stand = await standInBlob(root, path, stats, annex, undefined, annexedAs);
  if (stand) return { oid: await git.hashBlob(stand.content), annexed: stand.annexed };
  return { oid: (await git.hashFiles([join(root, path)]))[0]!, annexed: mayBePointerSize(stats.size) ? undefined : false };
}

/**
 * The bytes of the blob that stands for a symlink (its target) or an annexed file (its pointer, once its
 * content is in the annex); undefined for a file committed as it is. `target`: the link's target, when
 * already read.
 */
async function standInBlob(
  root: string,
  path: string,
  stats: Stats,
  annex: AnnexPort | undefined,
  target?: string,
  annexedAs?: CacheEntry["annexed"],
): Promise<{ content: Buffer; annexed: CacheEntry["annexed"] } | undefined> {
  const abs = join(root, path);
  if (stats.isSymbolicLink()) return { content: Buffer.from(target ?? (await readlink(abs))), annexed: false };
  if (annex === undefined || !goesToAnnex(annex, path, stats, annexedAs)) return undefined;
  // A pointer file (an annexed file moved or copied before its content arrived) stays the pointer to its
  // key, as git-annex keeps it: a rule that annexes its new name must not make its text the content.
  const key = (mayBePointerSize(stats.size) ? await readPointerFile(abs) : undefined) ?? (await annex.ingest(abs, path));
  return { content: Buffer.from(annex.formatPointer(key)), annexed: key };
}

/** Whether a file goes to the annex (annex's goesToAnnex); `annexedAs`: what the stat cache knows of it. */
function goesToAnnex(annex: AnnexPort, path: string, stats: Stats, annexedAs: CacheEntry["annexed"]): boolean {
  return annex.goesToAnnex(path, stats.size, stats.isFile() && typeof annexedAs === "string" ? annexedAs : undefined);
}

export function modeOf(stats: Stats): string {
  if (stats.isSymbolicLink()) return "120000";
  return stats.mode & 0o111 ? "100755" : "100644";
}
