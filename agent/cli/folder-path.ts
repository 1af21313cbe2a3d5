import { stat } from "node:fs/promises";
import { dirname, join, relative, resolve, sep } from "node:path";
import { findFolder, FolderError, openSyncedFolder, type SyncedFolder } from "../folder/index.ts";
import { LocalRepo } from "../sync/local-repo.ts";
import { readPause } from "../folder/pause.ts";
import { forShell } from "../terminal-text.ts";
import { cliLogger } from "./output.ts";

/**
 * A path a person typed (a file that may have been deleted, a folder, relative to where they are) as the
 * synced folder around it and the path inside it, as git names it.
 */
export async function locate(path: string): Promise<{ root: string; path: string }> {
  const abs = resolve(path);
  let dir = abs;
  while (
    !(await stat(dir).then(
      (s) => s.isDirectory(),
      () => false,
    ))
  ) {
    const up = dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  // The cloudbridge folder around it, as every command finds it (a git project nested inside is not one).
  const root = await findFolder(dir);
  if (!(await LocalRepo.isRepo(root))) throw new FolderError("not-a-folder", `${path} is not inside a cloudbridge folder.`);
  const inside = relative(root, abs);
  if (inside.startsWith("..")) throw new FolderError("not-a-folder", `${path} is not inside the folder ${root}.`);
  return { root, path: inside.split(sep).join("/") };
}

/**
 * `path` inside the folder at `root` (as git names it) the way a person where this command runs types it,
 * ready to paste into a command we print: relative to the current directory, as `locate` reads it, and
 * quoted for the shell. A folder-relative path pasted from a subfolder would name another file.
 */
export function typedPath(root: string, path: string): string {
  return forShell(relative(process.cwd(), join(root, ...path.split("/"))) || ".");
}

/**
 * The folder for one command whose process then exits (`oneCommand`): the bucket through the light S3 client
 * when the settings are plain. These commands scan only the paths they change, so git's index is not asked
 * (`lookThroughIndex`, a sync's).
 */
export function openQuietly(root: string): Promise<SyncedFolder> {
  return openSyncedFolder(root, { log: cliLogger({ quiet: true }), oneCommand: true });
}

/**
 * After a command changed files in the folder (a restore, a resolved conflict): one round commits and
 * pushes them now, unless the folder is paused (then they wait, like any change, for `resume`).
 */
export async function syncChanged(folder: SyncedFolder, paths: string[]): Promise<"synced" | "paused"> {
  if (await readPause(folder.root)) return "paused";
  await folder.engine.sync(paths);
  return "synced";
}
