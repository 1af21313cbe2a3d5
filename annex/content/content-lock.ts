import { mkdir, open, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { assertAnnexKey } from "../../protocol/index.ts";
import { AnnexError } from "../errors.ts";
import { isProcessAlive } from "./process-alive.ts";

/**
 * One process at a time may change whether this repository or the cloud holds a key (drop, drop --from,
 * and the checks that make them safe). A lock is a file created with O_EXCL holding the owner's pid; a
 * lock whose owner is no longer running (killed) is taken over.
 */

export async function withContentLock<T>(gitDir: string, key: string, work: () => Promise<T>, timeoutMs = 120_000): Promise<T> {
  const dir = join(gitDir, "annex", "cloudbridge", "locks");
  await mkdir(dir, { recursive: true });
  const path = join(dir, `${assertAnnexKey(key)}.lck`);
  const deadline = Date.now() + timeoutMs;
  for (let wait = 5; ; wait = Math.min(wait * 2, 200)) {
    try {
      const handle = await open(path, "wx");
      await handle.writeFile(String(process.pid));
      await handle.close();
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      const owner = (await readFile(path, "utf8").catch(() => "")).trim();
      // An empty file is a lock being written this instant: wait for it.
      if (owner && !isProcessAlive(Number(owner))) {
        await rm(path, { force: true });
        continue;
      }
      if (Date.now() > deadline)
        throw new AnnexError(
          "content-locked",
          key,
          `Another cloudbridge process (pid ${owner || "?"}) is working on ${key}; try again when it has finished.`,
        );
      await sleep(wait);
    }
  }
  try {
    return await work();
  } finally {
    await rm(path, { force: true });
  }
}
