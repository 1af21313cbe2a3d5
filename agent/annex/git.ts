import { spawn } from "node:child_process";

/**
 * Native git, run as a child process (DESIGN.md: native git is the agent's engine). The annex code needs
 * only plumbing: reading blobs from the git-annex branch, writing blobs, trees, commits and refs.
 */
export class GitError extends Error {
  readonly exitCode: number | null;
  readonly stderr: string;
  constructor(args: readonly string[], exitCode: number | null, stderr: string) {
    super(`git ${args.join(" ")} failed (exit ${exitCode}): ${stderr.trim() || "no message"}`);
    this.name = "GitError";
    this.exitCode = exitCode;
    this.stderr = stderr;
  }
}

export interface GitRunOptions {
  input?: string | Buffer;
  env?: Record<string, string>;
  /** Working directory (a work tree); without it git runs with --git-dir only. */
  cwd?: string;
}

/** Runs git against `gitDir` and returns its stdout as bytes; throws GitError on a non-zero exit. */
export function gitBytes(gitDir: string, args: readonly string[], options: GitRunOptions = {}): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = spawn("git", [`--git-dir=${gitDir}`, ...args], {
      cwd: options.cwd ?? gitDir,
      env: { ...process.env, ...options.env },
      stdio: ["pipe", "pipe", "pipe"],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (chunk: Buffer) => out.push(chunk));
    child.stderr.on("data", (chunk: Buffer) => err.push(chunk));
    child.on("error", reject);
    child.on("close", (code) => {
      if (code === 0) resolve(Buffer.concat(out));
      else reject(new GitError(args, code, Buffer.concat(err).toString()));
    });
    child.stdin.on("error", () => {}); // git may exit before reading all input; its exit code tells
    child.stdin.end(options.input ?? "");
  });
}

export async function git(gitDir: string, args: readonly string[], options: GitRunOptions = {}): Promise<string> {
  return (await gitBytes(gitDir, args, options)).toString("utf8");
}

/** The commit a ref points at, or undefined when the ref does not exist. */
export async function resolveRef(gitDir: string, ref: string): Promise<string | undefined> {
  try {
    return (await git(gitDir, ["rev-parse", "--verify", "--quiet", `${ref}^{commit}`])).trim() || undefined;
  } catch (error) {
    if (error instanceof GitError && error.exitCode === 1) return undefined;
    throw error;
  }
}
