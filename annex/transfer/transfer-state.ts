import { mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { dirname } from "node:path";

/**
 * Small JSON records that let a killed transfer resume: written to a temporary name and renamed, so a
 * kill mid-write leaves the previous record or the new one, never half of one. A record that does not
 * parse is treated as absent (the transfer restarts cleanly).
 */
export async function readState<T>(path: string, isValid: (value: unknown) => value is T): Promise<T | undefined> {
  try {
    const value: unknown = JSON.parse(await readFile(path, "utf8"));
    return isValid(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

export async function writeState(path: string, value: unknown): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, JSON.stringify(value));
  await rename(tmp, path);
}

export async function removeState(path: string): Promise<void> {
  await rm(path, { force: true });
}
