import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { assertAnnexKey } from "../../protocol/index.ts";
import { AnnexError } from "../errors.ts";
import { LockFile } from "./lock-file.ts";
import { isProcessAlive } from "./process-alive.ts";

/**
 * One process at a time may change whether this repository or the cloud holds a key (drop, drop --from,
 * and the checks that make them safe). A LockFile per key (O_EXCL, the owner's pid, a dead owner taken
 * over), exclusive within a process too (two drops of one key take turns), waited for at most `timeoutMs`.
 */

export async function withContentLock<T>(gitDir: string, key: string, work: () => Promise<T>, timeoutMs = 120_000): Promise<T> {
  const dir = join(gitDir, "annex", "cloudbridge", "locks");
  await mkdir(dir, { recursive: true });
  const lock = new LockFile(join(dir, `${assertAnnexKey(key)}.lck`));
  const deadline = Date.now() + timeoutMs;
  for (let wait = 5; !lock.tryCreate(); wait = Math.min(wait * 2, 200)) {
    const owner = lock.owner();
    // No pid yet: a lock being written this instant; wait for it.
    if (owner !== undefined && !isProcessAlive(owner)) {
      lock.breakStale(owner);
      continue;
    }
    if (Date.now() > deadline)
      throw new AnnexError(
        "content-locked",
        key,
        `Another cloudbridge process (pid ${owner ?? "?"}) is working on ${key}; try again when it has finished.`,
      );
    await sleep(wait);
  }
  try {
    return await work();
  } finally {
    lock.remove();
  }
}
