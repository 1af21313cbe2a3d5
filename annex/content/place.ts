import type { Stats } from "node:fs";
import { lstat, open, rename, rm } from "node:fs/promises";
import type { LocalStore } from "./local-store.ts";
import { MAX_POINTER_SIZE, parsePointer } from "./pointer.ts";
import { settled, tempPathFor } from "./temporaries.ts";

/**
 * Puts a key's content in place of the pointer file at `path`, if the file there is still that pointer: a
 * file the person changed meanwhile (or a locked file's symlink) is left alone. Returns the placed file's
 * stat, or undefined when nothing was placed: whoever keeps a stat cache records that stat, or the next
 * scan takes the content for a local edit and hashes the whole file again.
 *
 * The content is copied into a temporary beside the file and the file is looked at again just before the
 * rename: a save made during the copy (seconds, for a large file) is kept, and the next scan commits it.
 */
export async function placeContent(store: LocalStore, key: string, path: string, mode: number): Promise<Stats | undefined> {
  const before = await lstat(path).catch(() => undefined);
  if (!before?.isFile() || before.size > MAX_POINTER_SIZE) return undefined;
  if ((await readPointerFile(path)) !== key) return undefined;
  const temp = tempPathFor(path);
  try {
    if (!(await store.copyTo(key, temp, mode))) return undefined;
    // The stat of what is placed is taken before the rename, which keeps it: a save landing just after the
    // rename then differs from it, and the next scan commits that save instead of taking it for the content.
    const placed = await lstat(temp);
    if (!sameFile(await lstat(path).catch(() => undefined), before)) return undefined;
    await rename(temp, path);
    return placed;
  } finally {
    await rm(temp, { force: true });
    settled(temp);
  }
}

/** The same file, untouched: what a look just before a rename or unlink compares with the look before the work. */
export function sameFile(a: Stats | undefined, b: Stats | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return a.size === b.size && a.mtimeMs === b.mtimeMs && a.ino === b.ino && a.mode === b.mode;
}

/** The key the small file at `path` is a pointer to, or undefined (not a pointer, too large, gone). */
export async function readPointerFile(path: string): Promise<string | undefined> {
  const handle = await open(path, "r").catch(() => undefined);
  if (!handle) return undefined;
  try {
    const head = Buffer.alloc(MAX_POINTER_SIZE + 1);
    const { bytesRead } = await handle.read(head, 0, head.length, 0);
    return parsePointer(head.subarray(0, bytesRead));
  } finally {
    await handle.close();
  }
}
