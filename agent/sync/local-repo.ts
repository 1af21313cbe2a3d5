import { mkdir, readdir, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { registerFolder, removeLeftoverTemporaries } from "../../annex/index.ts";
import type { AnnexPort } from "./annex-port.ts";
import { removeLeftoverPacks } from "./blob-pack.ts";
import { checkout, type CheckoutOptions, type CheckoutResult } from "./checkout.ts";
import { FolderLock } from "./folder-lock.ts";
import { isFolder } from "../folder/find.ts";
import { registerCleanFilter } from "../git-filter/register.ts";
import {
  BlobReader,
  commitParents,
  editTree,
  encodePath,
  Git,
  initRepository,
  TreeEditConflict,
  type CommitIdentity,
} from "../../localgit/index.ts";
import { clearHiddenEntries, configEnv, indexIdentity, refreshIndexStat, timedLook, type TimedLook } from "./index-look.ts";
import { mtimesBetween, mtimeTrailers } from "./mtimes.ts";
import { scan, type ScanOptions, type ScanResult } from "./scanner.ts";
import { unsafePathReason } from "./safe-paths.ts";
import { journalFile, placedEntry, StatCache, statCacheFile, type CacheEntry } from "./stat-cache.ts";

export const MAIN_REF = "refs/heads/main";

/** Up to this many changed paths, a commit writes its tree without git's index (LocalRepo.treeWith). */
const EDITED_IN_PLACE = 1000;

/**
 * A split index: a commit or a checkout writes the entries it changed, not the whole folder's index (the
 * shared part is rewritten once the changes pass a fifth of it; old shared parts are removed then).
 */
const SPLIT_INDEX_CONFIG: ReadonlyArray<readonly [string, string]> = [
  ["core.splitIndex", "true"],
  ["splitIndex.sharedIndexExpire", "now"],
];

/**
 * A scan guided by git's index (`lookThroughIndex`) looks at every file itself instead, as the daemon
 * does, when git names more than this share of the tracked files (after an import or a clone, whose
 * index entries have no stat fields yet): one walk then costs less than a look and a hash per path.
 */
const WALK_ABOVE_SHARE = 1 / 8;

export interface CommitOptions extends ScanOptions {
  annex?: AnnexPort;
  message?: string;
}

/**
 * A synced folder: the files, its `.git`, and the agent's state in `.git/cloudbridge/` (stat cache,
 * transfer queue). Local commits go on `refs/heads/main` (HEAD). git's index always holds the tree of the
 * stat cache's commit (annexed files as pointer blobs, as git-annex's unlocked files), so a commit costs
 * only the changed entries and git tools (`git ls-files`, the annex commands) see what the folder holds.
 *
 * Crash safety (kill -9 at any moment): objects are written before the commit, the commit before the
 * ref, files before the ref that claims them, and the cache last. At open, a cache older than `main`
 * adopts `main` and re-hashes exactly the paths that differ, so a crash anywhere costs a re-hash, never a
 * file.
 *
 * Another process (a `cloudbridge sync` run by hand beside the daemon) may change all of this: every change
 * is made while holding the folder lock (folder-lock.ts), and whenever this process gets the lock back it
 * re-reads `main` and the stat cache if they moved meanwhile, so it never commits or checks out on top of
 * a stale picture.
 */
export class LocalRepo {
  readonly root: string;
  readonly git: Git;
  readonly stateDir: string;
  private readonly cleanFilter: { command: string | undefined } | undefined;
  /** Held by whatever changes `main`, the index, the stat cache or the files (shared within this process). */
  readonly lock: FolderLock;
  cache!: StatCache;
  /** git for the commands that write the index. */
  private readonly indexed: Git;
  private opened = false;
  /** The stat cache file as this process last read or wrote it: another process replaced it when it differs. */
  private cacheFileSeen: string | undefined;
  /** git's index as this process last wrote it (holding the cache's tree), or as it found it so at open. */
  private indexWritten: string | undefined;
  private readonly looksThroughIndex: boolean;
  /** git's look started with the open, taken by the first full scan if the index it looked at proves to be the one the agent left. */
  private earlyLook: Promise<TimedLook | undefined> | undefined;

  /**
   * `lookThroughIndex`: a full scan asks git's index which paths to look at (index-look.ts), for a process
   * that syncs once and exits (`cloudbridge sync` with no daemon); git's first look starts as the folder
   * opens, or is `look`, started before (index-look.ts, `startLook`). The daemon looks at every file
   * itself, between its watcher's events.
   */
  constructor(
    root: string,
    identity?: CommitIdentity,
    options: {
      onWait?: (owner: number) => void;
      lookThroughIndex?: boolean;
      look?: Promise<TimedLook | undefined>;
      /** The clean filter the folder's git config names, read already (its settings): not read again at `open`. */
      cleanFilter?: { command: string | undefined };
    } = {},
  ) {
    this.root = root;
    this.looksThroughIndex = options.lookThroughIndex === true;
    this.earlyLook = this.looksThroughIndex ? options.look : undefined;
    this.cleanFilter = options.cleanFilter;
    this.stateDir = join(root, ".git", "cloudbridge");
    this.lock = new FolderLock(join(this.stateDir, "folder-lock.pid"), {
      onAcquired: (tookOver) => this.reload(tookOver),
      beforeRelease: () => this.flushCache(),
      ...(options.onWait ? { onWait: options.onWait } : {}),
    });
    registerFolder(root, this.stateDir);
    this.git = new Git(join(root, ".git"), identity ? { identity } : {});
    this.indexed = this.git.with(configEnv(SPLIT_INDEX_CONFIG));
  }

  static isRepo(root: string): Promise<boolean> {
    return isFolder(root);
  }

  /** Creates `.git` (if needed) and the agent's state directory. */
  static async create(root: string): Promise<void> {
    await mkdir(root, { recursive: true });
    await initRepository(root);
    await mkdir(join(root, ".git", "cloudbridge"), { recursive: true });
  }

  /**
   * Removes git lock files a process killed mid-operation left behind (`index.lock`, `refs/…/x.lock`,
   * `packed-refs.lock`): while one exists every later git command on that file fails. Only call this
   * when no other cloudbridge process works on the folder (the daemon holds the folder, see daemon.ts).
   */
  async removeStaleLocks(): Promise<string[]> {
    const gitDir = this.git.gitDir;
    const removed: string[] = [];
    const visit = async (dir: string): Promise<void> => {
      const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
      for (const entry of entries) {
        const path = join(dir, entry.name);
        if (entry.isDirectory()) await visit(path);
        else if (entry.name.endsWith(".lock")) {
          await rm(path, { force: true });
          removed.push(path.slice(gitDir.length + 1));
        }
      }
    };
    await visit(join(gitDir, "refs"));
    await visit(this.stateDir);
    await visit(join(gitDir, "annex", "cloudbridge"));
    for (const name of ["packed-refs.lock", "index.lock", "HEAD.lock", "config.lock", "shallow.lock"]) {
      if (await stat(join(gitDir, name)).catch(() => undefined)) {
        await rm(join(gitDir, name), { force: true });
        removed.push(name);
      }
    }
    return removed;
  }

  async open(): Promise<this> {
    await mkdir(this.stateDir, { recursive: true });
    await this.lock.hold(async () => {
      // Plain `git status` in the folder agrees with the agent (a folder made before the filter gets it now).
      // Not worth failing the open for: someone else's git holding .git/config this instant, the next open retries.
      // Beside the reading of the folder's state, which need not wait for its `git config`: git renames a
      // rewritten config into place, so a git process started meanwhile reads the old file or the new one.
      const filter = registerCleanFilter(this.git.gitDir, this.cleanFilter).catch(() => undefined);
      try {
        await this.load();
      } finally {
        await filter;
      }
    });
    this.opened = true;
    return this;
  }

  private get cacheFile(): string {
    return statCacheFile(this.stateDir);
  }

  private async load(): Promise<void> {
    // Beside the reads below (git's look takes as long as they do): its answer is used only if the index
    // it looked at turns out to hold the cache's tree (`lookThroughIndex`).
    if (this.looksThroughIndex && !this.opened) this.earlyLook ??= this.timedLook().catch(() => undefined);
    // Files a killed cloudbridge process was preparing (it journaled them; nothing else is touched), and
    // the temporary pack it was writing.
    await removeLeftoverTemporaries(this.root, this.stateDir);
    await removeLeftoverPacks(this.git.gitDir);
    this.cache = await StatCache.load(this.cacheFile);
    this.indexBehind = [];
    const main = await this.head();
    // `main` moved without the cache (a crash after a commit, a person's own `git commit`): the index may
    // hold the cache's old commit, whatever the cache says of it.
    const adopted = main !== this.cache.commit;
    if (adopted) await this.adopt(main);
    // The index as this agent left it holds the cache's tree already; anything else rebuilds it.
    const index = await this.indexIdentity();
    if (!adopted && this.cache.index !== undefined && this.cache.index === index) this.indexWritten = index;
    else {
      await this.resetIndex();
      await this.saveCache();
    }
    this.cacheFileSeen = await this.cacheFileIdentity();
  }

  /** The folder lock is ours again: if another process moved `main` or rewrote the cache meanwhile, start from what it left. */
  private async reload(tookOverFromDeadOwner: boolean): Promise<void> {
    // A process killed while it held the folder left its git locks behind; nobody else can be using them now.
    if (tookOverFromDeadOwner) {
      await this.removeStaleLocks();
      await removeLeftoverTemporaries(this.root, this.stateDir);
      await removeLeftoverPacks(this.git.gitDir);
    }
    if (!this.opened) return;
    if ((await this.head()) === this.cache.commit && (await this.cacheFileIdentity()) === this.cacheFileSeen) return;
    await this.load();
  }

  /** The stat cache's files (snapshot and journal) as they are now: another process changed them when this differs. */
  private async cacheFileIdentity(): Promise<string> {
    const files = await Promise.all([this.cacheFile, journalFile(this.cacheFile)].map((file) => stat(file).catch(() => undefined)));
    return files.map((stats) => (stats ? `${stats.ino}:${stats.mtimeMs}:${stats.size}` : "none")).join(" ");
  }

  /** git's index file as it is now (index-look.ts). */
  private indexIdentity(): Promise<string | undefined> {
    return indexIdentity(this.git.gitDir);
  }

  /** Writes the stat cache (held: the folder lock), saying whether the index is still the one this process wrote. */
  async saveCache(): Promise<void> {
    // The cache names its commit: the index is brought there first, or it would be recorded as holding it.
    await this.catchUpIndex();
    const index = await this.indexIdentity();
    this.cache.index = index !== undefined && index === this.indexWritten ? index : undefined;
    await this.cache.save();
    this.cacheFileSeen = await this.cacheFileIdentity();
  }

  /**
   * The stat cache changed: it is written once, when this process lets go of the folder (the end of a
   * round, of a command), not after each commit and checkout of it, so a round does not serialize the whole
   * folder's cache between its commit and its push. Another process only reads it after taking the folder
   * lock, so it never sees it stale; after a crash the cache is older than `main`, which `load` repairs.
   */
  private cacheChanged(): void {
    this.cacheDirty = true;
  }

  private cacheDirty = false;

  /** Writes the stat cache if it changed (again, if it changed while being written). */
  private async flushCache(): Promise<void> {
    while (this.cacheDirty) {
      this.cacheDirty = false;
      await this.saveCache();
    }
  }

  async head(): Promise<string | undefined> {
    return this.git.revParse(MAIN_REF);
  }

  /**
   * Scans the folder (or some paths) and commits what changed; returns the new commit, if any, and the
   * paths the scan looked at when git's index chose them (`looked`; otherwise those asked for, or all).
   */
  commitChanges(options: CommitOptions = {}): Promise<{ commit?: string; scan: ScanResult; looked?: Set<string> }> {
    return this.lock.hold(() => this.commitChangesHeld(options));
  }

  private async commitChangesHeld(options: CommitOptions): Promise<{ commit?: string; scan: ScanResult; looked?: Set<string> }> {
    const look = this.looksThroughIndex && !options.paths ? await this.lookThroughIndex() : undefined;
    const guided = look !== undefined && look.tracked.length <= this.cache.entries.size * WALK_ABOVE_SHARE;
    const result = await scan(
      this.root,
      this.cache,
      this.git,
      options.annex,
      guided ? { ...options, paths: look.paths, rehash: this.rehashable(look.tracked) } : options,
    );
    if (guided) result.seen += this.cache.entries.size - look.tracked.length; // the files git compared
    const looked = guided ? new Set(look.paths) : undefined;
    if (result.changes.size === 0) {
      if (result.hashed > 0) this.cacheChanged();
      if (look) await this.keepIndexLooking(look, result, options.racyWindowMs);
      return { scan: result, ...(looked ? { looked } : {}) };
    }
    const parent = this.cache.commit;
    const tree = await this.treeWith(parent, result.changes);
    const times: Array<[string, number]> = [];
    for (const [path, entry] of result.changes) if (entry && entry.mode !== "120000") times.push([path, entry.mtimeMs]);
    const message = (options.message ?? describeChanges(result.changes)) + mtimeTrailers(times);
    const commit = await this.git.commitTree(tree, parent ? [parent] : [], message);
    await this.git.updateRef(MAIN_REF, commit, parent ?? "");
    for (const [path, entry] of result.changes) {
      if (entry) this.cache.entries.set(path, entry);
      else this.cache.entries.delete(path);
    }
    this.cache.commit = commit;
    this.cacheChanged();
    if (look) await this.keepIndexLooking(look, result, options.racyWindowMs);
    return { commit, scan: result, ...(looked ? { looked } : {}) };
  }

  /**
   * Of the tracked paths git named, those the scan hashes even where the stat cache's fields match (git
   * compares the ctime too). Not annexed files: git names every one whose index entry has no stat fields
   * (their pointer is recorded only through the clean filter, which reads the whole content), so hashing
   * them would read gigabytes at every sync; their size, mtime and inode are trusted, as the daemon's scan
   * and git-annex's inode cache trust them.
   */
  private rehashable(tracked: readonly string[]): Set<string> {
    return new Set(tracked.filter((path) => typeof this.cache.entries.get(path)?.annexed !== "string"));
  }

  /**
   * After a scan guided by git's index: when git named files that hold their blob (entries without stat
   * fields, files touched but not changed) or a commit changed entries, git records their stat fields
   * (index-look.ts, `refreshIndexStat`), so the next sync's look names only what changes meanwhile. What
   * cannot be recorded (a ghost, a version a read-only folder kept out, an annexed file, whose content is
   * not its pointer) is left out of the count, or a sync would refresh every time.
   */
  private async keepIndexLooking(look: TimedLook, result: ScanResult, racyWindowMs = 2000): Promise<void> {
    const settled = look.tracked.filter((path) => {
      const entry = this.cache.entries.get(path);
      return entry !== undefined && !entry.ghost && !entry.unwritten && typeof entry.annexed !== "string" && !result.changes.has(path);
    });
    if (settled.length === 0 && result.changes.size === 0) return;
    await this.catchUpIndex();
    try {
      await refreshIndexStat(this.git, this.root, SPLIT_INDEX_CONFIG, {
        paths: [...look.tracked, ...result.changes.keys()],
        before: look.before,
        racyWindowMs,
      });
      this.indexWritten = await this.indexIdentity();
    } catch {
      // Someone else's git held the index a moment (a person's `git status`): nothing is lost, the sync
      // is done. The index is not trusted for a look again until the next open has rebuilt it.
      this.indexWritten = undefined;
    }
    this.cacheChanged();
  }

  /**
   * git's look at the folder against its index (index-look.ts), or undefined when the index is not known
   * to hold the tree of the cache's commit (then the scan looks at every file): it must be the index this
   * process left or found so at its open, with every commit made without it applied and no entry left out.
   */
  private async lookThroughIndex(): Promise<TimedLook | undefined> {
    await this.catchUpIndex();
    const early = await this.earlyLook;
    this.earlyLook = undefined;
    if (!this.cache.commit || this.indexOmitsEntries || this.indexWritten === undefined) return undefined;
    if ((await this.indexIdentity()) !== this.indexWritten) return undefined;
    if (early && early.index === this.indexWritten) return early;
    const look = await this.timedLook().catch(() => undefined);
    return look?.index === this.indexWritten ? look : undefined;
  }

  /** git's look, and the index it looked at (index-look.ts). */
  private timedLook(): Promise<TimedLook> {
    return timedLook(this.git, this.root, this.stateDir);
  }

  /**
   * The tree of `parent` with the scan's changes. A few changes are written into the parent's tree directly
   * (the trees on their way only: a commit's cost does not grow with the folder), and git's index, which a
   * person's `git status` reads, catches up before the folder is let go (`catchUpIndex`); many (an import),
   * or a change git's index would refuse, go through the index as git itself would.
   */
  private async treeWith(parent: string | undefined, changes: ReadonlyMap<string, CacheEntry | null>): Promise<string> {
    const lines: Buffer[] = [];
    for (const [path, entry] of changes) {
      lines.push(Buffer.from(entry ? `${entry.mode} blob ${entry.oid}\t` : `0 ${"0".repeat(40)}\t`), encodePath(path), Buffer.from("\0"));
    }
    if (parent && changes.size <= EDITED_IN_PLACE && !this.indexOmitsEntries && ![...changes.keys()].some(gitRefusesPath)) {
      try {
        const edits = new Map([...changes].map(([path, entry]) => [path, entry ? { mode: entry.mode, oid: entry.oid } : null] as const));
        const tree = await editTree(this.git.gitDir, this.objects, `${parent}^{tree}`, edits);
        this.indexBehind.push(...lines);
        return tree;
      } catch (error) {
        if (!(error instanceof TreeEditConflict)) throw error;
      }
    }
    await this.catchUpIndex();
    await this.indexed.run(["update-index", "-z", "--add", "--remove", "--index-info"], { input: Buffer.concat(lines) });
    const tree = await this.indexed.text(["write-tree"]);
    this.indexWritten = await this.indexIdentity();
    this.indexOmitsEntries = false; // the commit's tree is the index's
    return tree;
  }

  /**
   * The index was filled without entries of the commit's tree that git refuses (`..`, `.git`, an absolute
   * path): the next commit goes through the index, so that it leaves them out too.
   */
  private indexOmitsEntries = false;

  private kept: BlobReader | undefined;

  /**
   * The folder's own `git cat-file --batch`, started at its first use and kept: commits and checkouts read
   * the trees and blobs they need through it instead of starting git each time (each start costs more the
   * larger this process is). Idle, it keeps nothing alive; it ends with this process.
   */
  get objects(): BlobReader {
    if (!this.kept || this.kept.isClosed) this.kept = new BlobReader(this.git.gitDir, { keptOpen: true });
    return this.kept;
  }

  /** Whether `parent` is one of the parents of `commit` (read through `objects`: no process started). */
  async isParentOf(parent: string, commit: string): Promise<boolean> {
    const object = await this.objects.readObject(commit);
    return object?.type === "commit" && (commitParents(object.body)?.includes(parent) ?? false);
  }

  /** Index lines (`update-index --index-info`) of commits made without the index, not applied to it yet. */
  private indexBehind: Buffer[] = [];

  /** Brings git's index to the cache's commit after commits made without it (one `update-index` of their paths). */
  private async catchUpIndex(): Promise<void> {
    if (this.indexBehind.length === 0) return;
    const input = Buffer.concat(this.indexBehind);
    this.indexBehind = [];
    const { code } = await this.indexed.run(["update-index", "-z", "--add", "--remove", "--index-info"], { input, okCodes: [128] });
    if (code === 0) this.indexWritten = await this.indexIdentity();
    else await this.resetIndex();
  }

  /** Moves the folder and `main` to `target` (a descendant of, or merge with, the current commit). */
  checkout(target: string, options: CheckoutOptions = {}): Promise<CheckoutResult> {
    return this.lock.hold(() => this.checkoutHeld(target, options));
  }

  private async checkoutHeld(target: string, options: CheckoutOptions): Promise<CheckoutResult> {
    const before = this.cache.commit;
    // The index is moved below by the entries that differ from `before`: it must hold `before` first.
    await this.catchUpIndex();
    if (before === target && !this.hasUnwritten())
      return { written: 0, deleted: 0, changed: [], skipped: [], refused: [], unwritable: [], missingContent: [], treeChanges: [] };
    // The files' modification times as the machines that changed them had them (mtimes.ts).
    // (Read beside the checkout's own comparison of the two trees.)
    const mtimes = mtimesBetween(this.git, before, target, this.objects).catch(() => undefined);
    const result = await checkout(this.root, this.git, this.cache, target, { ...options, mtimes, reader: this.objects });
    if (target !== before) await this.git.updateRef(MAIN_REF, target, before ?? "");
    this.cacheChanged();
    if (before === undefined || !(await this.updateIndex(result.treeChanges))) await this.resetIndex();
    else this.indexWritten = await this.indexIdentity();
    // What a person must see at once is written now: the rest of the cache waits for the end of the round.
    if (result.refused.length > 0 || result.unwritable.length > 0 || result.skipped.length > 0) await this.flushCache();
    return result;
  }

  /** Whether some paths could not be written here (read-only) and wait for a later checkout. */
  hasUnwritten(): boolean {
    return this.cache.entries.anyUnwritten();
  }

  /**
   * Puts an annexed file's content in place of its pointer file, once the content arrived, if the file on
   * disk is still that pointer (a file the person changed meanwhile is left alone).
   */
  placeContent(path: string, key: string, annex: AnnexPort): Promise<boolean> {
    return this.lock.hold(() => this.placeContentHeld(path, key, annex));
  }

  private async placeContentHeld(path: string, key: string, annex: AnnexPort): Promise<boolean> {
    const entry = this.cache.entries.get(path);
    if (!entry || entry.ghost || entry.mode === "120000") return false;
    const placed = await annex.place(key, join(this.root, path), entry.mode === "100755" ? 0o755 : 0o644);
    if (!placed) return false;
    this.cache.entries.set(path, placedEntry(entry, placed));
    this.cacheChanged();
    return true;
  }

  /** After a crash between moving `main` and saving the cache: take `main`'s tree, re-hash what differs. */
  private async adopt(main: string | undefined): Promise<void> {
    if (main === undefined) {
      this.cache.commit = undefined;
      this.cache.entries.clear();
      return;
    }
    const tree = await this.git.lsTree(main);
    for (const [path, cached] of this.cache.entries) {
      const entry = tree.get(path);
      if (!entry) this.cache.entries.delete(path);
      else if (entry.oid !== cached.oid || entry.mode !== cached.mode) {
        const { annexed: _unknownNow, ...stat } = cached;
        this.cache.entries.set(path, {
          ...stat,
          mode: entry.mode,
          oid: entry.oid,
          racy: true,
          ghost: unsafePathReason(path) !== undefined,
        });
      }
    }
    for (const [path, entry] of tree) {
      if (this.cache.entries.has(path)) continue;
      const ghost = unsafePathReason(path) !== undefined;
      this.cache.entries.set(path, {
        mode: entry.mode,
        oid: entry.oid,
        size: -1,
        mtimeMs: -1,
        ino: -1,
        racy: true,
        ...(ghost ? { ghost } : {}),
      });
    }
    this.cache.commit = main;
    this.cacheChanged();
  }

  /**
   * Brings git's index from the tree it holds to the next one by the entries that differ, so a checkout
   * costs the paths it changed, not the folder (`read-tree` rewrites every entry). False when git refuses
   * one of them (a path its index cannot hold): the caller then rebuilds the index whole.
   */
  private async updateIndex(changes: CheckoutResult["treeChanges"]): Promise<boolean> {
    if (changes.length === 0) return true;
    const lines: Buffer[] = [];
    for (const c of changes) {
      if (gitRefusesPath(c.path)) return false;
      const type = c.newMode === "160000" ? "commit" : "blob";
      lines.push(
        Buffer.from(c.deleted ? `0 ${"0".repeat(40)}\t` : `${c.newMode} ${type} ${c.newOid}\t`),
        encodePath(c.path),
        Buffer.from("\0"),
      );
    }
    const { code } = await this.indexed.run(["update-index", "-z", "--add", "--remove", "--replace", "--index-info"], {
      input: Buffer.concat(lines),
      okCodes: [128],
    });
    return code === 0;
  }

  private async resetIndex(): Promise<void> {
    this.indexBehind = []; // the whole tree of the cache's commit goes in
    await this.fillIndex();
    // git's look (index-look.ts) must not skip an entry whatever its file holds.
    if (this.looksThroughIndex) await clearHiddenEntries(this.git, SPLIT_INDEX_CONFIG);
    this.indexWritten = await this.indexIdentity();
  }

  /** Puts the tree of the cache's commit in git's index. */
  private async fillIndex(): Promise<void> {
    this.indexOmitsEntries = false;
    if (!this.cache.commit) {
      await this.indexed.run(["read-tree", "--empty"]);
      return;
    }
    // `--reset` (a one-tree merge) keeps the stat information of entries the tree does not change, so a
    // person's plain `git status` looks again (through the clean filter) only at the files that changed.
    const { code } = await this.indexed.run(["read-tree", "--reset", this.cache.commit], { okCodes: [128] });
    this.indexOmitsEntries = code !== 0;
    if (code === 0) return;
    // The tree holds paths git's own index refuses (`..`, an absolute path, `.git`): those were refused at
    // checkout; the index (and so the next local commit) leaves them out.
    const entries = await this.git.lsTree(this.cache.commit);
    for (const path of entries.keys()) {
      if (gitRefusesPath(path)) {
        entries.delete(path);
        this.cache.entries.delete(path);
      }
    }
    await this.indexed.run(["read-tree", "--empty"]);
    await this.indexed.run(["update-index", "-z", "--add", "--index-info"], {
      input: Buffer.concat(
        [...entries].flatMap(([path, e]) => [Buffer.from(`${e.mode} blob ${e.oid}\t`), encodePath(path), Buffer.from("\0")]),
      ),
    });
  }
}

/** git's verify_path, roughly: what `read-tree` refuses to put in an index. */
function gitRefusesPath(path: string): boolean {
  return path.startsWith("/") || path.split("/").some((s) => s === "" || s === "." || s === ".." || s.toLowerCase() === ".git");
}

function describeChanges(changes: Map<string, unknown>): string {
  let added = 0;
  let removed = 0;
  for (const entry of changes.values()) {
    if (entry) added += 1;
    else removed += 1;
  }
  const first = [...changes.keys()].slice(0, 3).join(", ");
  return `cloudbridge: ${added} changed, ${removed} removed (${first}${changes.size > 3 ? ", …" : ""})`;
}
