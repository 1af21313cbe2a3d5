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

/**
 * Paths cross into and out of git NUL-delimited, never as text lines: a file name may hold a newline (or
 * end in a carriage return), and a path split in two shifts every answer after it onto the wrong file.
 */
export function joinNul(paths: readonly string[]): Buffer {
  return Buffer.from(paths.map((p) => `${p}\0`).join(""));
}

/** The NUL-terminated records of git's `-z` output (the empty tail after the last NUL dropped). */
export function splitNul(output: Buffer | string): string[] {
  const records = output.toString().split("\0");
  if (records.at(-1) === "") records.pop();
  return records;
}

/** Bytes of paths per `git hash-object` run: well under Linux's ARG_MAX (2 MiB, with the environment). */
const HASH_ARGS_BYTES = 512 * 1024;

/**
 * Writes the blobs of these files (`hash-object -w --no-filters -- <paths>`) and returns their ids in the
 * order given. The paths go as arguments, which are NUL-delimited by nature: `--stdin-paths` reads lines
 * and has no `-z`. The answer holds only object ids, one per line.
 */
export async function hashObjectFiles(paths: readonly string[], options: GitOptions = {}): Promise<string[]> {
  const oids: string[] = [];
  for (let start = 0; start < paths.length;) {
    let end = start;
    for (let bytes = 0; end < paths.length && (end === start || bytes + Buffer.byteLength(paths[end]!) < HASH_ARGS_BYTES); end++) {
      bytes += Buffer.byteLength(paths[end]!) + 1;
    }
    const batch = paths.slice(start, end);
    const answer = (await runGit(["hash-object", "-w", "--no-filters", "--", ...batch], options)).stdout.toString().split("\n");
    if (answer.at(-1) === "") answer.pop();
    if (answer.length !== batch.length) {
      throw new GitStoreError("git-failed", `git hash-object answered ${answer.length} ids for ${batch.length} files`);
    }
    oids.push(...answer);
    start = end;
  }
  return oids;
}
