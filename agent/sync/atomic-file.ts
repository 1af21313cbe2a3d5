import { open, rename, rm } from "node:fs/promises";
import { settled, tempPathFor } from "../../annex/index.ts";

/**
 * Writes `data` to `path` so that a reader (or a restart after kill -9) sees the old file or the new one,
 * never half of it: a temporary file in the same directory, flushed, then renamed over.
 */
export async function writeFileAtomic(
  path: string,
  data: Buffer | string,
  options: { mode?: number; fsync?: boolean } = {},
): Promise<void> {
  const temp = tempPathFor(path);
  try {
    await writeAndRename(temp, path, data, options);
  } finally {
    settled(temp);
  }
}

async function writeAndRename(
  temp: string,
  path: string,
  data: Buffer | string,
  options: { mode?: number; fsync?: boolean },
): Promise<void> {
  const handle = await open(temp, "wx", options.mode ?? 0o644);
  try {
    await handle.writeFile(data);
    if (options.mode !== undefined) await handle.chmod(options.mode);
    if (options.fsync) await handle.sync();
  } catch (error) {
    await handle.close();
    await rm(temp, { force: true });
    throw error;
  }
  await handle.close();
  try {
    await rename(temp, path);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
}
