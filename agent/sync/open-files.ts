import { readdirSync, readFileSync, readlinkSync } from "node:fs";

/**
 * Which of these files some process has open for writing right now, as git-annex's assistant asks `lsof`
 * before it adds a file: a file still being written (a download, an export, a copy) is not committed
 * until its writer closes it. On Linux this reads `/proc/<pid>/fd` (the processes this user may look at:
 * a person's own programs) and each matching descriptor's flags in `/proc/<pid>/fdinfo`. Elsewhere it
 * answers undefined (unknown): the caller then waits for the file to stay unchanged instead.
 */
export async function openForWriting(absolutePaths: readonly string[]): Promise<Set<string> | undefined> {
  if (process.platform !== "linux" || absolutePaths.length === 0) return absolutePaths.length === 0 ? new Set() : undefined;
  const wanted = new Set(absolutePaths);
  const open = new Set<string>();
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
        if (!wanted.has(target) || open.has(target)) continue;
        let info: string;
        try {
          info = readFileSync(`/proc/${pid}/fdinfo/${fd}`, "utf8");
        } catch {
          continue; // closed meanwhile
        }
        const flags = /^flags:\s*([0-7]+)/m.exec(info)?.[1];
        // O_WRONLY (1) or O_RDWR (2) in the access mode bits.
        if (flags !== undefined && (Number.parseInt(flags, 8) & 3) !== 0) open.add(target);
      }
    }
  }
  return open;
}

const PROCESSES_PER_TURN = 64;
