import { relative, sep } from "node:path";
import { subscribe, type AsyncSubscription } from "@parcel/watcher";
import { FolderIgnore, isIgnoreFileName } from "./ignore-rules.ts";
import { isGitDirName } from "./safe-paths.ts";

/**
 * Watches the folder (@parcel/watcher: native inotify / FSEvents / ReadDirectoryChangesW, one watch per
 * directory, events delivered in batches, nothing re-read or stat'ed in JavaScript) and reports bursts of
 * changes: the paths touched, once the folder has been quiet for `debounceMs` (or `maxDelayMs` after the
 * first event of a burst that never quiets down), so a copy of a thousand files becomes one commit, not a
 * thousand. Events are hints; the scanner decides what really changed. A watcher that re-read a folder
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
    debounceMs?: number;
    maxDelayMs?: number;
    /**
     * The folder's tracked paths: events inside a folder the ignore rules name (an ignored `node_modules/`)
     * are dropped unless something under it is already synced. Without it, every event is reported.
     */
    tracked?: () => Iterable<string>;
  } = {},
): FolderWatcher {
  const debounceMs = options.debounceMs ?? 300;
  const maxDelayMs = options.maxDelayMs ?? Math.max(2000, debounceMs * 4);
  let pending = new Set<string>();
  let quietTimer: NodeJS.Timeout | undefined;
  let burstTimer: NodeJS.Timeout | undefined;
  let closed = false;

  const flush = () => {
    clearTimeout(quietTimer);
    clearTimeout(burstTimer);
    quietTimer = burstTimer = undefined;
    if (pending.size === 0 || closed) return;
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
    if (!added) return;
    clearTimeout(quietTimer);
    quietTimer = setTimeout(flush, debounceMs);
    burstTimer ??= setTimeout(flush, maxDelayMs);
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
      clearTimeout(quietTimer);
      clearTimeout(burstTimer);
      await (await subscription)?.unsubscribe();
    },
  };
}
