import { spawn } from "node:child_process";
import { GitStoreError } from "./errors.ts";

export interface GitRun {
  stdout: Buffer;
  stderr: string;
  code: number;
}

export interface GitOptions {
  gitDir?: string;
  cwd?: string;
  input?: string | Buffer;
  env?: Record<string, string>;
  /** Resolve with the exit code instead of throwing when git fails. */
  allowFailure?: boolean;
}

/** Runs the git binary (never through a shell) and collects its output. */
export function runGit(args: readonly string[], options: GitOptions = {}): Promise<GitRun> {
  return new Promise((resolve, reject) => {
    const env: NodeJS.ProcessEnv = { ...process.env, ...options.env, GIT_TERMINAL_PROMPT: "0" };
    if (options.gitDir) env.GIT_DIR = options.gitDir;
    const child = spawn("git", args, { cwd: options.cwd, env, stdio: ["pipe", "pipe", "pipe"] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (chunk: Buffer) => out.push(chunk));
    child.stderr.on("data", (chunk: Buffer) => err.push(chunk));
    child.stdin.on("error", () => {}); // git may exit before reading all its input; its exit code says why
    child.on("error", (error) => reject(new GitStoreError("git-failed", `could not run git (${error.message}); is git installed?`)));
    child.on("close", (code) => {
      const result = { stdout: Buffer.concat(out), stderr: Buffer.concat(err).toString(), code: code ?? 1 };
      if (result.code !== 0 && !options.allowFailure) {
        reject(new GitStoreError("git-failed", `git ${args[0]} failed (exit ${result.code}): ${result.stderr.trim() || "no message"}`));
      } else {
        resolve(result);
      }
    });
    child.stdin.end(options.input ?? "");
  });
}

export async function gitText(args: readonly string[], options: GitOptions = {}): Promise<string> {
  return (await runGit(args, options)).stdout.toString().trim();
}
