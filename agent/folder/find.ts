import { lstat, readFile, stat } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";

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

/**
 * The linked worktree (`git worktree add`) of a cloudbridge folder that holds `dir`, if one does: the nearest
 * `.git` at or above `dir` is a file naming a git directory whose `commondir` is the folder's `.git`. Such a
 * worktree is another checkout of the folder's repository (its own branch, files and index), beside the folder
 * or inside it; cloudbridge syncs the folder's own work tree only, so a command that would sync must not
 * take the worktree, or the folder around it, for the folder. A `.git` directory first (a repository's own
 * work tree), a submodule's `.git` file, or none: undefined. One `lstat` a level until a `.git` is found.
 */
export async function linkedWorktreeOf(dir: string): Promise<{ worktree: string; folder: string } | undefined> {
  for (let at = resolve(dir); ;) {
    const dotGit = await lstat(join(at, ".git")).catch(() => undefined);
    if (dotGit?.isDirectory()) return undefined;
    if (dotGit?.isFile()) {
      const named = /^gitdir: (.+)$/m.exec(await readFile(join(at, ".git"), "utf8").catch(() => ""))?.[1];
      if (!named) return undefined;
      const gitDir = resolve(at, named.trim());
      // Read as git reads it (localgit), loaded only here: a `.git` file is rare, and this module loads nothing else.
      const { commonGitDir } = await import("../../localgit/index.ts");
      const common = commonGitDir(gitDir, {});
      const folder = dirname(common);
      return common !== gitDir && basename(common) === ".git" && (await isFolder(folder)) ? { worktree: at, folder } : undefined;
    }
    const parent = dirname(at);
    if (parent === at) return undefined;
    at = parent;
  }
}
