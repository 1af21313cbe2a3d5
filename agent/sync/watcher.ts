import { relative, sep } from "node:path";
import { watch, type FSWatcher } from "chokidar";
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
  options: { debounceMs?: number; maxDelayMs?: number } = {},
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

  const watcher: FSWatcher = watch(root, {
    ignoreInitial: true,
    persistent: true,
    followSymlinks: false,
    ignored: (path: string) => {
      const rel = relative(root, path);
      return rel !== "" && rel.split(sep).some(isGitDirName);
    },
  });
  watcher.on("all", (_event, path) => {
    const rel = relative(root, path).split(sep).join("/");
    if (rel === "" || rel.startsWith("..")) return;
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
