import { stat, writeFile } from "node:fs/promises";
import { join } from "node:path";

/**
 * The time as the folder's file system stamps it, not as this machine's clock says: a file in the agent's
 * state directory is written and its mtime read back. Files' mtimes are compared with this, never with
 * `Date.now()`, so a clock days off (or a file server with its own clock) changes nothing: racy-git rules
 * are relative to the scan itself. Without a state directory (a folder that is not synced yet) it falls
 * back to the machine's clock.
 */
export async function fileSystemNow(stateDir: string): Promise<number> {
  const stamp = join(stateDir, "fs-clock");
  try {
    await writeFile(stamp, "x");
    return (await stat(stamp)).mtimeMs;
  } catch {
    return Date.now();
  }
}

/**
 * Whether a file's stat fields cannot vouch for its content (git's racily clean entries): it was written so
 * close to the moment it was looked at that a later write in the same timestamp tick would leave them
 * unchanged. Only closeness counts: a time far in the future (a clock set back, files from a machine whose
 * clock is ahead) is as trustworthy as one far in the past, since any later write stamps a different time.
 */
export function isRacy(mtimeMs: number, lookedAtMs: number, windowMs: number): boolean {
  return Math.abs(lookedAtMs - mtimeMs) < windowMs;
}
