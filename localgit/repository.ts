import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { runGit } from "./run.ts";

/** Creates a repository (or leaves an existing one as it is, as `git init` does); `main` is its first branch. */
export async function initRepository(dir: string, options: { bare?: boolean } = {}): Promise<void> {
  await runGit(["init", "--quiet", ...(options.bare ? ["--bare"] : []), "--initial-branch=main", dir]);
}

/** The repository whose work tree holds `cwd`: its git directory and top folder; undefined outside one. */
export async function findRepository(cwd: string): Promise<{ gitDir: string; workTree: string } | undefined> {
  const run = await runGit(["rev-parse", "--absolute-git-dir", "--show-toplevel"], { cwd, allowFailure: true });
  const [gitDir, workTree] = run.stdout.toString().trim().split("\n");
  return run.code === 0 && gitDir && workTree ? { gitDir, workTree } : undefined;
}

/**
 * The directory holding the repository that `gitDir` belongs to: its objects, config, shared refs and this
 * project's state (`cloudbridge/`). That is `gitDir` itself, but for a linked worktree (`git worktree add`),
 * whose git directory (`.git/worktrees/<name>`) holds only its own HEAD, index and per-worktree refs and names
 * the repository's in a `commondir` file, as git reads it (or GIT_COMMON_DIR where set). Synchronous: one
 * read of a file that is usually absent, where a process starts (the remote helper), rather than a
 * `git rev-parse --git-common-dir`.
 */
export function commonGitDir(gitDir: string, env: NodeJS.ProcessEnv = process.env): string {
  if (env.GIT_COMMON_DIR) return resolve(env.GIT_COMMON_DIR);
  let named: string;
  try {
    named = readFileSync(join(gitDir, "commondir"), "utf8").replace(/\r?\n$/, "");
  } catch {
    return gitDir;
  }
  return named === "" ? gitDir : resolve(gitDir, named);
}
