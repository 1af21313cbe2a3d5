import { readdir, readFile, readlink } from "node:fs/promises";

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
    pids = (await readdir("/proc")).filter((name) => /^\d+$/.test(name));
  } catch {
    return undefined;
  }
  await Promise.all(
    pids.map(async (pid) => {
      let fds: string[];
      try {
        fds = await readdir(`/proc/${pid}/fd`);
      } catch {
        return; // gone, or another user's process
      }
      await Promise.all(
        fds.map(async (fd) => {
          const target = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => undefined);
          if (target === undefined || !wanted.has(target) || open.has(target)) return;
          const info = await readFile(`/proc/${pid}/fdinfo/${fd}`, "utf8").catch(() => "");
          const flags = /^flags:\s*([0-7]+)/m.exec(info)?.[1];
          // O_WRONLY (1) or O_RDWR (2) in the access mode bits.
          if (flags !== undefined && (Number.parseInt(flags, 8) & 3) !== 0) open.add(target);
        }),
      );
    }),
  );
  return open;
}
