import { spawn, type ChildProcessByStdio } from "node:child_process";
import type { Readable, Writable } from "node:stream";
import { LocalGitError } from "./errors.ts";
import { encodePath } from "./tree.ts";

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
  /** Exit codes that are answers rather than failures (e.g. 1 for `merge-base --is-ancestor`). */
  okCodes?: readonly number[];
}

/**
 * Runs the git binary (never through a shell) and collects its output: the one place cloudbridge starts
 * git on a local repository. Messages are in the C locale so that callers can read git's answers.
 */
export function runGit(args: readonly string[], options: GitOptions = {}): Promise<GitRun> {
  return new Promise((resolve, reject) => {
    const env: NodeJS.ProcessEnv = { ...process.env, LC_ALL: "C", ...options.env, GIT_TERMINAL_PROMPT: "0" };
    if (options.gitDir) env.GIT_DIR = options.gitDir;
    const child = spawn("git", args, { cwd: options.cwd, env, stdio: ["pipe", "pipe", "pipe"] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (chunk: Buffer) => out.push(chunk));
    child.stderr.on("data", (chunk: Buffer) => err.push(chunk));
    child.stdin.on("error", () => {}); // git may exit before reading all its input; its exit code says why
    child.on("error", (error) =>
      reject(new LocalGitError("git-unavailable", `could not run git (${error.message}); is git installed and on PATH?`)),
    );
    child.on("close", (code) => {
      const result = { stdout: Buffer.concat(out), stderr: Buffer.concat(err).toString(), code: code ?? 1 };
      if (result.code === 0 || options.allowFailure || options.okCodes?.includes(result.code)) resolve(result);
      else reject(gitFailed(args, result));
    });
    child.stdin.end(options.input ?? "");
  });
}

/** stdout as text, trimmed. */
export async function gitText(args: readonly string[], options: GitOptions = {}): Promise<string> {
  return (await runGit(args, options)).stdout.toString().trim();
}

export function gitFailed(args: readonly string[], run: { code: number; stderr: string }): LocalGitError {
  const why = run.stderr.trim().split("\n").slice(-3).join(" / ") || "no message";
  return new LocalGitError("git-failed", `git ${args.slice(0, 3).join(" ")} failed (exit ${run.code}): ${why}`, {
    exitCode: run.code,
    stderr: run.stderr,
  });
}

/**
 * A long-lived git process for a batch protocol (`cat-file --batch`): stdin and stdout are pipes, stderr is
 * dropped (the protocol itself reports missing objects).
 */
export function startGit(
  args: readonly string[],
  options: { gitDir: string; env?: Record<string, string> },
): ChildProcessByStdio<Writable, Readable, null> {
  return spawn("git", args, {
    env: { ...process.env, LC_ALL: "C", ...options.env, GIT_DIR: options.gitDir, GIT_TERMINAL_PROMPT: "0" },
    stdio: ["pipe", "pipe", "ignore"],
  });
}

/**
 * Paths cross into and out of git NUL-delimited, never as text lines: a file name may hold a newline (or
 * end in a carriage return), and a path split in two shifts every answer after it onto the wrong file.
 */
export function joinNul(paths: readonly string[]): Buffer {
  return Buffer.concat(paths.map((p) => Buffer.concat([encodePath(p), NUL])));
}

/** The NUL-terminated records of git's `-z` output (the empty tail after the last NUL dropped). */
export function splitNul(output: Buffer | string): string[] {
  const records = output.toString().split("\0");
  if (records.at(-1) === "") records.pop();
  return records;
}

const NUL = Buffer.from([0]);
