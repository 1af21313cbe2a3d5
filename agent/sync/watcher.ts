import { relative, sep } from "node:path";
import { subscribe, type AsyncSubscription } from "@parcel/watcher";
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
  /** Resolves once events flow. */
  ready: Promise<void>;
  close(): Promise<void>;
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

  // A watcher error (too many watches, a vanished directory) must not stop the daemon: the reconcile covers it.
  const subscription: Promise<AsyncSubscription | undefined> = subscribe(
    root,
    (error, events) => {
      if (!error && !closed) onEvents(events.map((e) => e.path));
    },
    // The repository itself (where every round writes); a nested project's `.git` is dropped above.
    { ignore: [".git"] },
  ).catch(() => undefined);
  return {
    ready: subscription.then(() => undefined),
    close: async () => {
      closed = true;
      clearTimeout(timer);
      await (await subscription)?.unsubscribe();
    },
  };
}
