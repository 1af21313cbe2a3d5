import { watch, type FSWatcher } from "node:fs";
import { readFileSync } from "node:fs";
import { lstat, readdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { AsyncSubscription, Event, SubscribeCallback } from "@parcel/watcher";
import { isGitDirName } from "./safe-paths.ts";

/**
 * The folder watched one directory at a time with the kernel's own watches (Linux: one inotify watch per
 * directory, through Node's `fs.watch`), holding nothing per file: a watch per directory, its path and
 * inode. @parcel/watcher's Linux backend keeps a tree of every file under the folder (it lstats them all
 * before it delivers anything): on 100,000 files that was about 24 MiB and 2 s of the daemon's start,
 * for events the scanner looks at again anyway. The same contract as its `subscribe` (paths touched, in
 * batches; a failure to start rejects, a later failure is told through the callback), so the watcher
 * (watcher.ts) takes either.
 *
 * A directory that appears (made, moved in) is reported, for the scanner to walk, and watched with all
 * the directories below it; one that goes (removed, moved away, replaced by a file) stops being watched
 * with everything below it. Directories named `.git` are not watched (a repository, the folder's own or
 * a nested project's), nor are symlinked ones (what they lead to is not in the folder).
 */
export async function subscribeByDirectory(root: string, callback: SubscribeCallback): Promise<AsyncSubscription> {
  /** Absolute path of each watched directory → its watch and inode. */
  const watched = new Map<string, { watcher: FSWatcher; ino: number }>();
  let closed = false;
  let started = false;
  /** A failure before the first walk ended: the subscription is refused with it. */
  let startError: Error | undefined;

  const fail = (error: Error) => {
    if (closed) return;
    if (started) callback(error, []);
    else startError ??= error;
  };

  const unwatch = (dir: string) => {
    const below = `${dir}/`;
    for (const [path, { watcher }] of watched)
      if (path === dir || path.startsWith(below)) {
        watcher.close();
        watched.delete(path);
      }
  };

  /**
   * Watches `top` and every directory below it (each listed once). `again`: `top` was just made, moved in
   * or removed, so a watch held for its path is dead even when the directory there now has the same inode
   * (ext4 hands a directory removed and made again at once, as a checkout does when a file moves within
   * it, its old inode back; the old watch went with the old directory and sees nothing).
   */
  const watchTree = async (top: string, again = false): Promise<void> => {
    const queue = [top];
    while (queue.length > 0 && !closed) {
      const dir = queue.pop()!;
      let ino: number;
      try {
        const stats = await lstat(dir);
        if (!stats.isDirectory()) continue;
        ino = stats.ino;
      } catch {
        continue; // gone meanwhile: its parent's event says so
      }
      if (watched.get(dir)?.ino === ino && !(again && dir === top)) continue;
      unwatch(dir);
      let watcher: FSWatcher;
      try {
        watcher = watch(dir, (eventType, name) => onEvent(dir, eventType, name));
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        // Gone meanwhile, or a folder this process may not read (the scanner lists it): its parent's watch
        // sees it change (a chmod, a removal), and it is looked at again then.
        if (code === "ENOENT" || code === "ENOTDIR" || code === "EACCES" || code === "EPERM") continue;
        // ENOSPC (the kernel's limit of watches), EMFILE (of instances): the caller must know.
        fail(error as Error);
        continue;
      }
      watcher.on("error", (error) => {
        // A directory that went away ends its watch; anything else is a watcher that stopped working.
        void lstat(dir).then(
          () => fail(error),
          () => unwatch(dir),
        );
      });
      watched.set(dir, { watcher, ino });
      let names;
      try {
        names = await readdir(dir, { withFileTypes: true });
      } catch {
        continue; // unreadable or gone: the scanner says which
      }
      for (const entry of names) if (entry.isDirectory() && !isGitDirName(entry.name)) queue.push(join(dir, entry.name));
    }
  };

  let pending: Event[] = [];
  const deliver = () => {
    const events = pending;
    pending = [];
    if (events.length > 0 && !closed) callback(null, events);
  };

  const onEvent = (dir: string, eventType: string, name: string | Buffer | null) => {
    eventsSeen += 1;
    if (closed) return;
    const path = name === null ? dir : join(dir, name.toString());
    // The events of one moment go out together, as the native watcher's batches did.
    if (pending.length === 0) setImmediate(deliver);
    pending.push({ path, type: "update" });
    // Something was made, removed, moved or had its permissions changed: a directory among them is
    // watched (again), or stops being watched.
    if (name !== null && !isGitDirName(name.toString()) && (eventType === "rename" || !watched.has(path))) {
      void lstat(path).then(
        (stats) => {
          if (stats.isDirectory()) return watchTree(path, eventType === "rename");
          unwatch(path);
        },
        () => unwatch(path),
      );
    }
  };

  await watchTree(root);
  if (startError) {
    closed = true;
    unwatch(root);
    throw startError;
  }
  started = true;
  return {
    unsubscribe: () => {
      closed = true;
      for (const { watcher } of watched.values()) watcher.close();
      watched.clear();
      return Promise.resolve();
    },
  };
}

/**
 * Events the directory watches of this process were told of, every folder's: they all come through one
 * kernel queue (libuv's inotify instance), which drops events without a word once it holds
 * `fs.inotify.max_queued_events`. A count that grew by less than that since a scan of the whole folder
 * began proves nothing was dropped since.
 */
let eventsSeen = 0;

export function directoryEventsSeen(): number {
  return eventsSeen;
}

/** The kernel's queue length (fs.inotify.max_queued_events; Linux's default where it cannot be read). */
export const maxQueuedEvents: number = (() => {
  try {
    return Number(readFileSync("/proc/sys/fs/inotify/max_queued_events", "utf8").trim()) || 16_384;
  } catch {
    return 16_384;
  }
})();

let fences = 0;
/** How long a fence may take to come back before the watcher is taken to be broken. */
const FENCE_TIMEOUT_MS = 10_000;

/**
 * Resolves once every event that happened before the call has reached the callbacks of this process's
 * directory watches (as git's fsmonitor daemon and Watchman do it, with a cookie file): a file made in
 * `dir` (the folder's `.git/cloudbridge`; any directory this process can write) comes back through the
 * same kernel queue as every earlier event, after them. Rejects when it does not come back.
 */
export async function watchFence(dir: string): Promise<void> {
  const name = `watch-fence.${process.pid}.${fences++}`;
  let watcher: FSWatcher | undefined;
  let timer: NodeJS.Timeout | undefined;
  try {
    await new Promise<void>((back, fail) => {
      watcher = watch(dir, (_event, seen) => {
        if (seen?.toString() === name) back();
      });
      watcher.on("error", fail);
      timer = setTimeout(
        () => fail(new Error(`the watcher did not see ${join(dir, name)} within ${FENCE_TIMEOUT_MS} ms`)),
        FENCE_TIMEOUT_MS,
      );
      writeFile(join(dir, name), "").catch(fail);
    });
  } finally {
    clearTimeout(timer);
    watcher?.close();
    await rm(join(dir, name), { force: true });
  }
  // The events before the fence were handed to their callbacks before it was; each batch goes out on
  // the next turn (setImmediate in the watch), which runs before this one's.
  await new Promise((next) => setImmediate(next));
}
