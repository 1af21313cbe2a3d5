import { relative, sep } from "node:path";
import { watch, type FSWatcher } from "chokidar";
import { FolderIgnore, isIgnoreFileName } from "./ignore-rules.ts";
import { isGitDirName } from "./safe-paths.ts";

/**
 * Watches the folder (chokidar: inotify / FSEvents, no polling) and reports bursts of changes: the paths
 * touched, once the folder has been quiet for `debounceMs` (or `maxDelayMs` after the first event of a
 * burst that never quiets down), so a copy of a thousand files becomes one commit, not a thousand.
 * Events are hints; the scanner decides what really changed.
 */
export interface FolderWatcher {
  /** Resolves once the initial directory walk is done and events flow. */
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
     * The folder's tracked paths: a folder the ignore rules name is not watched (an ignored `node_modules/`
     * costs no watches) unless something under it is already synced. Without it, every folder is watched.
     */
    tracked?: () => Iterable<string>;
  } = {},
): FolderWatcher {
  const debounceMs = options.debounceMs ?? 300;
  const maxDelayMs = options.maxDelayMs ?? Math.max(2000, debounceMs * 4);
  let pending = new Set<string>();
  let quietTimer: NodeJS.Timeout | undefined;
  let burstTimer: NodeJS.Timeout | undefined;

  const flush = () => {
    clearTimeout(quietTimer);
    clearTimeout(burstTimer);
    quietTimer = burstTimer = undefined;
    if (pending.size === 0) return;
    const paths = [...pending];
    pending = new Set();
    onBurst(paths);
  };

  // Rules as the scanner reads them; forgotten when an ignore file changes. A folder taken back by a changed
  // rule is watched again after a restart; until then the reconcile scan finds what is in it.
  const rules = options.tracked ? new FolderIgnore(root) : undefined;
  const ignoredFolders = new Map<string, boolean>();
  const ignoredFolder = (rel: string): boolean => {
    let known = ignoredFolders.get(rel);
    if (known === undefined) {
      known = rules!.ignores(rel, true);
      if (known) for (const path of options.tracked!()) if (path.startsWith(`${rel}/`)) known = false;
      ignoredFolders.set(rel, known);
    }
    return known;
  };
  const watcher: FSWatcher = watch(root, {
    ignoreInitial: true,
    persistent: true,
    followSymlinks: false,
    ignored: (path: string, stats?: { isDirectory(): boolean }) => {
      const rel = relative(root, path);
      if (rel === "") return false;
      if (rel.split(sep).some(isGitDirName)) return true;
      return rules !== undefined && stats?.isDirectory() === true && ignoredFolder(rel.split(sep).join("/"));
    },
  });
  watcher.on("all", (_event, path) => {
    const rel = relative(root, path).split(sep).join("/");
    if (rel === "" || rel.startsWith("..")) return;
    if (rules && isIgnoreFileName(rel.slice(rel.lastIndexOf("/") + 1))) {
      rules.reset();
      ignoredFolders.clear();
    }
    pending.add(rel);
    clearTimeout(quietTimer);
    quietTimer = setTimeout(flush, debounceMs);
    burstTimer ??= setTimeout(flush, maxDelayMs);
  });
  // A watcher error (too many watches, a vanished directory) must not stop the daemon: the reconcile covers it.
  watcher.on("error", () => undefined);
  const ready = new Promise<void>((resolve) => watcher.once("ready", () => resolve()));
  return {
    ready,
    close: async () => {
      clearTimeout(quietTimer);
      clearTimeout(burstTimer);
      await watcher.close();
    },
  };
}
