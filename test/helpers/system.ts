import { spawn, execFileSync } from "node:child_process";
import { mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";

/** A pid that is not running: a child that has exited (what kill -9 leaves in a lock file). */
export async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ["-e", ""]);
  await new Promise((resolve) => child.once("exit", resolve));
  return child.pid!;
}

/**
 * Runs `work` on a real, full file system (a 64 KiB tmpfs mounted at `dir`, filled up: every write that
 * needs a new block fails with ENOSPC); `free()` gives the space back. Needs root, as the tests run.
 */
export async function withFullDisk<T>(dir: string, work: (free: () => Promise<void>) => Promise<T>): Promise<T> {
  await mkdir(dir, { recursive: true });
  execFileSync("mount", ["-t", "tmpfs", "-o", "size=64k", "tmpfs", dir]);
  try {
    const filler = join(dir, "filler");
    await writeFile(filler, Buffer.alloc(1024 * 1024)).catch(() => undefined); // ENOSPC once full: the point
    return await work(() => rm(filler));
  } finally {
    try {
      execFileSync("umount", [dir]);
    } catch {
      // Still busy (a file the code under test left open): detach it, so the test's own failure is the one seen.
      execFileSync("umount", ["--lazy", dir]);
    }
  }
}

/** inotify watches this process holds now (Linux: one `inotify wd:` line per watch in /proc/self/fdinfo). */
export async function inotifyWatches(): Promise<number> {
  let watches = 0;
  for (const fd of await readdir("/proc/self/fdinfo")) {
    const info = await readFile(`/proc/self/fdinfo/${fd}`, "utf8").catch(() => "");
    watches += info.split("\n").filter((line) => line.startsWith("inotify wd:")).length;
  }
  return watches;
}
