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
