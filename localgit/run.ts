import { spawn, type ChildProcessByStdio } from "node:child_process";
import { accessSync, constants } from "node:fs";
import { EventEmitter } from "node:events";
import type { Socket } from "node:net";
import { Readable, Writable } from "node:stream";
import { delimiter, join } from "node:path";
import { fileURLToPath } from "node:url";
import { LocalGitError } from "./errors.ts";
import { encodeRequest, ReplyReader, type SpawnerReply, type SpawnerRequest } from "./spawner-frames.ts";
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
  const env: NodeJS.ProcessEnv = { ...process.env, LC_ALL: "C", ...options.env, GIT_TERMINAL_PROMPT: "0" };
  if (options.gitDir) env.GIT_DIR = options.gitDir;
  const ran = spawner?.usable
    ? spawner.run(args, env, options.cwd, options.input ?? "")
    : runHere(args, env, options.cwd, options.input ?? "");
  return ran.then((result) => {
    if (result.code === 0 || options.allowFailure || options.okCodes?.includes(result.code)) return result;
    throw gitFailed(args, result);
  });
}

/** git started by this process itself. */
function runHere(args: readonly string[], env: NodeJS.ProcessEnv, cwd: string | undefined, input: string | Buffer): Promise<GitRun> {
  return new Promise((resolve, reject) => {
    const child = spawn("git", args, { cwd, env, stdio: ["pipe", "pipe", "pipe"] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (chunk: Buffer) => out.push(chunk));
    child.stderr.on("data", (chunk: Buffer) => err.push(chunk));
    child.stdin.on("error", () => {}); // git may exit before reading all its input; its exit code says why
    child.on("error", (error) => reject(gitUnavailable(error.message)));
    child.on("close", (code) => resolve({ stdout: Buffer.concat(out), stderr: Buffer.concat(err).toString(), code: code ?? 1 }));
    child.stdin.end(input);
  });
}

function gitUnavailable(why: string): LocalGitError {
  return new LocalGitError("git-unavailable", `could not run git (${why}); is git installed and on PATH?`);
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

/** A long-lived git process (a batch protocol): its input and output, its end, and whether it holds this process's event loop. */
export interface GitProcess {
  readonly stdin: Writable;
  readonly stdout: Readable;
  once(event: "close", listener: (code: number | null) => void): this;
  on(event: "close", listener: (code: number | null) => void): this;
  /** Whether this process's event loop waits for it (as a child process's handles do): `unref` while it is idle. */
  ref(): void;
  unref(): void;
}

/**
 * A long-lived git process for a batch protocol (`cat-file --batch`): stdin and stdout are pipes, stderr is
 * dropped (the protocol itself reports missing objects).
 */
export function startGit(args: readonly string[], options: { gitDir: string; env?: Record<string, string> }): GitProcess {
  const env = { ...process.env, LC_ALL: "C", ...options.env, GIT_DIR: options.gitDir, GIT_TERMINAL_PROMPT: "0" };
  if (spawner?.usable) return spawner.start(args, env);
  const child = spawn("git", args, { env, stdio: ["pipe", "pipe", "ignore"] });
  // The pipes are sockets (net.Socket), though typed as plain streams.
  const pipes = [child.stdin as unknown as Socket, child.stdout as unknown as Socket];
  const [ref, unref] = [child.ref.bind(child), child.unref.bind(child)];
  return Object.assign(child, {
    ref: () => {
      ref();
      for (const pipe of pipes) pipe.ref();
    },
    unref: () => {
      unref();
      for (const pipe of pipes) pipe.unref();
    },
  });
}

/**
 * git started from a small process of its own instead of this one, from now on (the daemon: see
 * git-spawner.pl for why). Started at once where there is a perl (git on Debian requires one; elsewhere git
 * is started here, as before); should it fail or exit, git is started here again, and what was running
 * through it fails as a git process that was killed would.
 */
export function startGitFromSpawner(): void {
  if (!spawner && onPath("perl")) spawner = new Spawner();
}

/** Stops the spawner (tests; a process that ends needs not: the spawner ends with it). */
export async function stopGitSpawner(): Promise<void> {
  const stopping = spawner;
  spawner = undefined;
  await stopping?.stop();
}

/** The spawner's process id, while there is one (tests, benchmarks). */
export function gitSpawnerPid(): number | undefined {
  return spawner?.usable ? spawner.pid : undefined;
}

let spawner: Spawner | undefined;

function onPath(command: string): boolean {
  return (process.env.PATH ?? "").split(delimiter).some((folder) => {
    try {
      accessSync(join(folder || ".", command), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/** The client side of git-spawner.pl. */
class Spawner {
  private readonly child: ChildProcessByStdio<Writable, Readable, null>;
  private readonly replies = new ReplyReader();
  private nextId = 0;
  private readonly runs = new Map<
    number,
    { stdout: Buffer[]; stderr: Buffer[]; resolve: (run: GitRun) => void; reject: (error: Error) => void }
  >();
  private readonly started = new Map<number, SpawnedGit>();
  /** Requests waiting and started processes not idle: while any, the pipes hold this process's event loop. */
  private holds = 0;
  private failed = false;

  constructor() {
    this.child = spawn("perl", [fileURLToPath(new URL("./git-spawner.pl", import.meta.url))], {
      stdio: ["pipe", "pipe", "ignore"],
      // Large buffers (a run's input of megabytes) are mapped apart and unmapped once freed, not kept in
      // its heap by glibc's rising threshold: it stays a few MiB. git gets its own environment, not this.
      env: { ...process.env, MALLOC_MMAP_THRESHOLD_: "131072" },
    });
    this.child.stdout.on("data", (chunk: Buffer) => {
      for (const reply of this.replies.push(chunk)) this.answer(reply);
    });
    this.child.stdin.on("error", () => this.fail());
    this.child.on("error", () => this.fail());
    this.child.on("exit", () => this.fail());
    this.hold(0);
  }

  /** Whether git is started through it (false once it failed). */
  get usable(): boolean {
    return !this.failed;
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  run(args: readonly string[], env: NodeJS.ProcessEnv, cwd: string | undefined, input: string | Buffer): Promise<GitRun> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.runs.set(id, { stdout: [], stderr: [], resolve, reject });
      this.hold(1);
      this.send({ op: "run", id, args, env, ...(cwd !== undefined ? { cwd } : {}), input: Buffer.from(input) });
    });
  }

  start(args: readonly string[], env: NodeJS.ProcessEnv): GitProcess {
    const id = this.nextId++;
    const git = new SpawnedGit(
      (data) => this.send({ op: "write", id, data }),
      () => this.send({ op: "end", id }),
      (change) => this.hold(change),
    );
    this.started.set(id, git);
    this.send({ op: "start", id, args, env });
    return git;
  }

  private send(request: SpawnerRequest): void {
    if (this.failed) return void (request.op === "start" && this.answer({ op: "done", id: request.id, code: null }));
    this.child.stdin.write(encodeRequest(request));
  }

  private answer(reply: SpawnerReply): void {
    const run = this.runs.get(reply.id);
    if (run) {
      if (reply.op === "stdout") run.stdout.push(reply.data);
      else if (reply.op === "stderr") run.stderr.push(reply.data);
      else {
        this.runs.delete(reply.id);
        this.hold(-1);
        if (reply.op === "failed") run.reject(gitUnavailable(reply.message));
        else if (reply.op === "done")
          run.resolve({ code: reply.code ?? 1, stdout: Buffer.concat(run.stdout), stderr: Buffer.concat(run.stderr).toString() });
      }
      return;
    }
    const git = this.started.get(reply.id);
    if (!git) return;
    if (reply.op === "stdout") git.received(reply.data);
    else if (reply.op === "done" || reply.op === "failed") {
      this.started.delete(reply.id);
      git.ended(reply.op === "done" ? reply.code : null);
    }
  }

  /** The spawner is gone: what ran through it fails (as a killed git would), and git is started here from now on. */
  private fail(): void {
    if (this.failed) return;
    this.failed = true;
    for (const [id, run] of this.runs) {
      this.runs.delete(id);
      this.hold(-1);
      run.reject(new LocalGitError("git-failed", "git's spawner process exited while git ran; try again"));
    }
    for (const [id, git] of this.started) {
      this.started.delete(id);
      git.ended(null);
    }
    this.hold(0);
  }

  private hold(change: number): void {
    this.holds += change;
    // The pipes are sockets (net.Socket), though typed as plain streams.
    const handles = [this.child, this.child.stdin as unknown as Socket, this.child.stdout as unknown as Socket];
    for (const handle of handles) {
      if (this.holds > 0 && !this.failed) handle.ref();
      else handle.unref();
    }
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise((resolve) => this.child.once("exit", resolve));
    this.child.stdin.end();
    await exited;
  }
}

/** A git process started by the spawner, seen as a child process is. */
class SpawnedGit extends EventEmitter implements GitProcess {
  readonly stdin: Writable;
  readonly stdout = new Readable({ read: () => {} });
  private readonly hold: (change: number) => void;
  private held = true;
  private closed = false;

  constructor(write: (data: Buffer) => void, end: () => void, hold: (change: number) => void) {
    super();
    this.hold = hold;
    this.stdin = new Writable({
      write: (chunk: Buffer, _encoding, done) => {
        write(chunk);
        done();
      },
      final: (done) => {
        end();
        done();
      },
    });
    this.hold(1);
  }

  received(data: Buffer): void {
    this.stdout.push(data);
  }

  ended(code: number | null): void {
    if (this.closed) return;
    this.closed = true;
    this.unref();
    // `close` after the last of stdout, as a child process's.
    this.stdout.once("end", () => this.emit("close", code));
    if (this.stdout.listenerCount("data") === 0) this.stdout.resume();
    this.stdout.push(null);
  }

  ref(): void {
    if (this.held || this.closed) return;
    this.held = true;
    this.hold(1);
  }

  unref(): void {
    if (!this.held) return;
    this.held = false;
    this.hold(-1);
  }
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
