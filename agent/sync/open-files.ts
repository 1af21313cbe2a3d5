import { readdirSync, readFileSync, readlinkSync } from "node:fs";

/** A descriptor through which a process holds a file open for writing. */
export interface Writer {
  pid: string;
  fd: string;
}

/**
 * Which of these files some process has open for writing right now, as git-annex's assistant asks `lsof`
 * before it adds a file: a file still being written (a download, an export, a copy) is not committed
 * until its writer closes it. On Linux this reads `/proc/<pid>/fd` (the processes this user may look at:
 * a person's own programs) and each matching descriptor's flags in `/proc/<pid>/fdinfo`. Elsewhere it
 * answers undefined (unknown): the caller then waits for the file to stay unchanged instead.
 */
export async function openForWriting(absolutePaths: readonly string[]): Promise<Set<string> | undefined> {
  const writers = await writersOf(absolutePaths);
  return writers && new Set(writers.keys());
}

/** The same look as `openForWriting`, with the descriptors that hold each file open for writing. */
export async function writersOf(absolutePaths: readonly string[]): Promise<Map<string, Writer[]> | undefined> {
  if (process.platform !== "linux" || absolutePaths.length === 0) return absolutePaths.length === 0 ? new Map() : undefined;
  const wanted = new Set(absolutePaths);
  const open = new Map<string, Writer[]>();
  let pids: string[];
  try {
    pids = readdirSync("/proc").filter((name) => /^\d+$/.test(name));
  } catch {
    return undefined;
  }
  // Synchronous, a few processes at a time: /proc answers from memory, and a promise per descriptor through
  // the thread pool cost 2-5 times as long (a machine has thousands of descriptors open).
  for (let i = 0; i < pids.length; i += PROCESSES_PER_TURN) {
    if (i > 0) await new Promise(setImmediate);
    for (const pid of pids.slice(i, i + PROCESSES_PER_TURN)) {
      let fds: string[];
      try {
        fds = readdirSync(`/proc/${pid}/fd`);
      } catch {
        continue; // gone, or another user's process
      }
      for (const fd of fds) {
        let target: string;
        try {
          target = readlinkSync(`/proc/${pid}/fd/${fd}`);
        } catch {
          continue;
        }
        if (!wanted.has(target)) continue;
        let info: string;
        try {
          info = readFileSync(`/proc/${pid}/fdinfo/${fd}`, "utf8");
        } catch {
          continue; // closed meanwhile
        }
        const flags = /^flags:\s*([0-7]+)/m.exec(info)?.[1];
        // O_WRONLY (1) or O_RDWR (2) in the access mode bits.
        if (flags !== undefined && (Number.parseInt(flags, 8) & 3) !== 0) {
          const writers = open.get(target);
          if (writers) writers.push({ pid, fd });
          else open.set(target, [{ pid, fd }]);
        }
      }
    }
  }
  return open;
}

/**
 * Resolves true once none of `writers` holds `path` any more (each closed its descriptor, or exited), false
 * when `withinMs` passed first. Linux tells a file closed after writing (inotify's IN_CLOSE_WRITE), but
 * not through the watches Node offers (`fs.watch` asks for no closing event), so the descriptors the look
 * found are looked at again, one `readlink` each, every `everyMs`: microseconds a look, where a look
 * through every process's descriptors costs tens of milliseconds. A file its writer is done with is then
 * taken at once instead of when it would have settled.
 */
export async function writersClosed(path: string, writers: readonly Writer[], withinMs: number, everyMs = CLOSE_POLL_MS): Promise<boolean> {
  const until = performance.now() + withinMs;
  const holds = ({ pid, fd }: Writer): boolean => {
    try {
      return readlinkSync(`/proc/${pid}/fd/${fd}`) === path;
    } catch {
      return false; // closed, or the process is gone
    }
  };
  let left = writers.filter(holds);
  while (left.length > 0) {
    if (performance.now() >= until) return false;
    // Unreferenced: a look still waiting never keeps a stopping process alive.
    await new Promise((resolve) => setTimeout(resolve, everyMs).unref());
    left = left.filter(holds);
  }
  return true;
}

const PROCESSES_PER_TURN = 64;
/** How often `writersClosed` looks: a file is taken at most this long after its writer closed it. */
const CLOSE_POLL_MS = 10;
