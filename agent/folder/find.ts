import { stat } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";

/**
 * Finding the folder a command means, with nothing but `stat`: commands that may be answered without
 * opening the folder (`cloudbridge sync` asked of a running daemon) find it before loading anything else.
 */

/** The agent's state directory in a folder: `.git/cloudbridge` (what makes a directory a cloudbridge folder). */
export function stateDirOf(root: string): string {
  return join(root, ".git", "cloudbridge");
}

/** Whether `root` is a cloudbridge folder (its `.git/cloudbridge` exists). */
export async function isFolder(root: string): Promise<boolean> {
  return stat(stateDirOf(root)).then(
    (s) => s.isDirectory(),
    () => false,
  );
}

/**
 * The cloudbridge folder a command means: `dir`, or the current directory, or — as git finds its
 * repository — the nearest folder above it that is a cloudbridge folder. So a command run in a subfolder
 * works on the folder around it, and its advice never leads to a synced folder nested in another. When
 * none is found, `dir` (or the current directory) itself, for the command to say it is not a folder.
 */
export async function findFolder(dir?: string): Promise<string> {
  const start = resolve(dir ?? ".");
  for (let at = start; ;) {
    if (await isFolder(at)) return at;
    const parent = dirname(at);
    if (parent === at) return start;
    at = parent;
  }
}
