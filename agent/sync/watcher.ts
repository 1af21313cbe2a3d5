import { readFile } from "node:fs/promises";
import { relative, sep } from "node:path";
import type { AsyncSubscription, subscribe } from "@parcel/watcher";
import { directoryEventsSeen, maxQueuedEvents, subscribeByDirectory, watchFence } from "./directory-watch.ts";
import { FolderIgnore, isIgnoreFileName } from "./ignore-rules.ts";
import { isGitDirName } from "./safe-paths.ts";

/**
 * Watches the folder (@parcel/watcher: native inotify / FSEvents / ReadDirectoryChangesW, one watch per
 * directory, events delivered in batches, nothing re-read or stat'ed in JavaScript) and reports the paths
 * touched. The debounce adapts: events are reported at once when nothing was reported in the last
 * `debounceMs` (a single save travels without waiting for the folder to be quiet), and what comes after a
 * report is gathered until `debounceMs` after it, so a copy of a thousand files is reported a few times
 * per second, not a thousand times; the sync engine merges whatever is reported while a round runs into
 * the one next round. Events are hints; the scanner decides what really changed. A watcher that re-read a folder
 * at each event (chokidar) cost a `lstat` of every file beside each file written: quadratic in a folder
 * receiving thousands of files, and one object per file in memory.
 */
export interface FolderWatcher {
  /** Resolves once events flow (or once the watcher failed to start: `onError` was told). */
  ready: Promise<void>;
  /**
   * Every path touched up to this moment, taken from the debounce (they are not reported to `onBurst`):
   * the watcher has seen everything that happened before the call. Undefined when it cannot vouch for
   * that, and the caller must scan the whole folder: no `fenceDir`, or a watcher that needs none to be
   * sure (another system's), a watcher that failed, or so many events since the last whole-folder scan
   * began that the kernel's queue may have dropped some.
   */
  caughtUp(): Promise<string[] | undefined>;
  /** A scan of the whole folder begins: whatever the watcher missed before now, it finds. */
  wholeFolderScanned(): void;
  close(): Promise<void>;
}

/** The native watcher's entry point (@parcel/watcher's `subscribe`), replaceable where a test needs a failing one. */
export type Subscribe = typeof subscribe;

/**
 * Linux: a watch per directory and nothing per file (directory-watch.ts); elsewhere @parcel/watcher
 * (FSEvents, ReadDirectoryChangesW: recursive by themselves), loaded only there.
 */
const nativeSubscribe: Subscribe =
  process.platform === "linux"
    ? subscribeByDirectory
    : async (dir, callback, options) => (await import("@parcel/watcher")).subscribe(dir, callback, options);

/**
 * Why the watcher failed, in words a person acts on. Past the kernel's limit of inotify watches (one per
 * folder) Linux answers ENOSPC ("No space left on device"), which says nothing of the real cause.
 */
/** Linux's inotify limits (undefined where they cannot be read: another system). */
export async function inotifyLimits(): Promise<{ maxUserWatches?: number; maxUserInstances?: number }> {
  const read = (name: string) =>
    readFile(`/proc/sys/fs/inotify/${name}`, "utf8").then(
      (text) => Number(text.trim()) || undefined,
      () => undefined,
    );
  const [maxUserWatches, maxUserInstances] = await Promise.all([read("max_user_watches"), read("max_user_instances")]);
  return { ...(maxUserWatches ? { maxUserWatches } : {}), ...(maxUserInstances ? { maxUserInstances } : {}) };
}

export function watcherTrouble(error: unknown, limits: { maxUserWatches?: number; maxUserInstances?: number } = {}): string {
  const message = error instanceof Error ? error.message : String(error);
  if (/inotify_add_watch.*(No space left on device|ENOSPC)/i.test(message) || /\bENOSPC\b.*watch/i.test(message))
    return `the kernel's limit of inotify watches (fs.inotify.max_user_watches${limits.maxUserWatches ? ` = ${limits.maxUserWatches}` : ""}) is reached: the folder has more subfolders than the system lets one user watch; raise it (sysctl fs.inotify.max_user_watches=524288, and a file in /etc/sysctl.d/ to keep it)`;
  if (/inotify_init.*(Too many open files|EMFILE)/i.test(message))
    return `the kernel's limit of inotify instances (fs.inotify.max_user_instances${limits.maxUserInstances ? ` = ${limits.maxUserInstances}` : ""}) is reached; raise it (sysctl fs.inotify.max_user_instances=1024)`;
  return `the folder watcher failed: ${message}`;
}

export function watchFolder(
  root: string,
  onBurst: (paths: string[]) => void,
  options: {
    /** At most one report per this many milliseconds (the first one at once). */
    debounceMs?: number;
    /**
     * The folder's tracked paths: events inside a folder the ignore rules name (an ignored `node_modules/`)
     * are dropped unless something under it is already synced. Without it, every event is reported.
     */
    tracked?: () => Iterable<string>;
    /**
     * Told when the watcher fails to start or stops delivering (the kernel's watch limit, a vanished folder):
     * changes may then go unseen until the caller scans again.
     */
    onError?: (error: Error) => void;
    subscribe?: Subscribe;
    /**
     * The folder's `.git/cloudbridge`, where `caughtUp` writes its fence file (Linux's directory watches:
     * the one watcher here whose queue order is known).
     */
    fenceDir?: string;
  } = {},
): FolderWatcher {
  const debounceMs = options.debounceMs ?? 300;
  let pending = new Set<string>();
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  /** When the last report went (performance.now()). */
  let reported = -Infinity;

  const flush = () => {
    timer = undefined;
    if (pending.size === 0 || closed) return;
    reported = performance.now();
    const paths = [...pending];
    pending = new Set();
    onBurst(paths);
  };

  // Rules as the scanner reads them; forgotten when an ignore file changes.
  const rules = options.tracked ? new FolderIgnore(root) : undefined;
  const ignoredFolders = new Map<string, boolean>();
  const ignoredFolder = (dir: string): boolean => {
    let known = ignoredFolders.get(dir);
    if (known === undefined) {
      known = rules!.ignores(dir, true);
      if (known) for (const path of options.tracked!()) if (path.startsWith(`${dir}/`)) known = false;
      ignoredFolders.set(dir, known);
    }
    return known;
  };
  const inIgnoredFolder = (rel: string): boolean => {
    if (!rules) return false;
    for (let slash = rel.indexOf("/"); slash > 0; slash = rel.indexOf("/", slash + 1)) if (ignoredFolder(rel.slice(0, slash))) return true;
    return false;
  };

  const onEvents = (paths: string[]) => {
    let added = false;
    for (const path of paths) {
      const rel = relative(root, path).split(sep).join("/");
      if (rel === "" || rel.startsWith("..") || rel.split("/").some(isGitDirName)) continue;
      if (rules && isIgnoreFileName(rel.slice(rel.lastIndexOf("/") + 1))) {
        rules.reset();
        ignoredFolders.clear();
      }
      if (inIgnoredFolder(rel)) continue;
      pending.add(rel);
      added = true;
    }
    if (!added || timer) return;
    // The events of one moment (one save: create, write, rename) arrive together and join one report.
    timer = setTimeout(flush, Math.max(0, reported + debounceMs - performance.now()));
  };

  // A watcher error (too many watches, a vanished directory) does not stop the daemon: it is told, and scans.
  let broken = false;
  const failed = (error: unknown) => {
    broken = true;
    if (!closed) options.onError?.(error instanceof Error ? error : new Error(String(error)));
  };
  const fenceDir = options.subscribe === undefined && process.platform === "linux" ? options.fenceDir : undefined;
  /** Directory events counted when the last whole-folder scan began (none yet: the caller's first round is one). */
  let scannedAt: number | undefined;
  const subscription: Promise<AsyncSubscription | undefined> = (options.subscribe ?? nativeSubscribe)(
    root,
    (error, events) => {
      if (error) failed(error);
      else if (!closed) onEvents(events.map((e) => e.path));
    },
    // The repository itself (where every round writes); a nested project's `.git` is dropped above.
    { ignore: [".git"] },
  ).catch((error: unknown) => {
    failed(error);
    return undefined;
  });
  return {
    ready: subscription.then(() => undefined),
    caughtUp: async () => {
      if (!fenceDir || broken || closed || scannedAt === undefined || (await subscription) === undefined) return undefined;
      // A fence that does not come back (a daemon too busy to read its events for seconds) is no proof.
      if (
        !(await watchFence(fenceDir).then(
          () => true,
          () => false,
        ))
      )
        return undefined;
      // Half the queue: the fences and other watches of this process share it without being counted.
      if (broken || closed || directoryEventsSeen() - scannedAt >= maxQueuedEvents / 2) return undefined;
      clearTimeout(timer);
      timer = undefined;
      const paths = [...pending];
      pending = new Set();
      return paths;
    },
    wholeFolderScanned: () => {
      scannedAt = directoryEventsSeen();
    },
    close: async () => {
      closed = true;
      clearTimeout(timer);
      await (await subscription)?.unsubscribe();
    },
  };
}
