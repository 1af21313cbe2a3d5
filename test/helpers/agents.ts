import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";

/**
 * The `cloudbridge` CLI and daemon as child processes, the way a person runs them: real processes with
 * their own environment (pointed at a local cloud), no shared memory with the test. Git runs without
 * the machine's user or system configuration.
 */
const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const NODE = process.execPath;
const MAIN = fileURLToPath(new URL("../../agent/cli/main.ts", import.meta.url));

export function agentEnv(cloudEnv: Readonly<Record<string, string>>, extra: Record<string, string> = {}): Record<string, string> {
  return {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: process.env.HOME ?? "/tmp",
    GIT_CONFIG_NOSYSTEM: "1",
    GIT_CONFIG_GLOBAL: "/dev/null",
    ...(process.env.CLOUDBRIDGE_LOG_LEVEL ? { CLOUDBRIDGE_LOG_LEVEL: process.env.CLOUDBRIDGE_LOG_LEVEL } : {}),
    ...cloudEnv,
    ...extra,
  };
}

/**
 * How the agent is run so that file permissions apply to it as to a person's own agent: the tests run as
 * root, whom mode bits do not stop, so the agent then runs without the capabilities that let root pass
 * them (`setpriv` drops CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH; git and everything it starts inherit
 * that). A mode-000 file is then as unreadable to it as to any user. As another user nothing is needed.
 */
export function permissionsApply(): string[] {
  return process.getuid?.() === 0 ? ["setpriv", "--bounding-set", "-dac_override,-dac_read_search", "--"] : [];
}

/** The program and arguments that run the CLI with `args`, behind `prefix` (e.g. `permissionsApply()`). */
function command(prefix: readonly string[], args: string[]): [string, string[]] {
  const line = [...prefix, NODE, "--disable-warning=ExperimentalWarning", MAIN, ...args];
  return [line[0]!, line.slice(1)];
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function cli(args: string[], env: Record<string, string>, options: { cwd?: string; prefix?: string[] } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(...command(options.prefix ?? [], args), {
      cwd: options.cwd ?? ROOT,
      env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

/** Like `cli`, but a non-zero exit is an error carrying the output. */
export async function cliOk(args: string[], env: Record<string, string>, options: { cwd?: string } = {}): Promise<CliResult> {
  const result = await cli(args, env, options);
  if (result.code !== 0) throw new Error(`cloudbridge ${args.join(" ")} exited ${result.code}:\n${result.stderr}\n${result.stdout}`);
  return result;
}

export interface Daemon {
  readonly dir: string;
  readonly process: ChildProcess;
  /** Parsed JSON log lines so far. */
  readonly events: Array<Record<string, unknown>>;
  /** Resolves on the first log event `event` (already seen or still to come). */
  waitForEvent(event: string, timeoutMs?: number): Promise<Record<string, unknown>>;
  /** SIGTERM and wait for a clean exit. */
  stop(): Promise<number | null>;
  /** SIGKILL (kill -9), no chance to clean up. */
  kill9(): Promise<void>;
}

export async function startDaemon(
  dir: string,
  env: Record<string, string>,
  flags: string[] = [],
  options: { ready?: boolean; prefix?: string[] } = {},
): Promise<Daemon> {
  const child = spawn(...command(options.prefix ?? [], ["daemon", dir, "--json-log", ...flags]), {
    cwd: ROOT,
    env,
    stdio: ["ignore", "ignore", "pipe"],
  });
  const events: Array<Record<string, unknown>> = [];
  const waiters = new Set<{ event: string; resolve: (e: Record<string, unknown>) => void }>();
  let buffer = "";
  child.stderr!.on("data", (chunk: Buffer) => {
    buffer += chunk.toString();
    let newline;
    while ((newline = buffer.indexOf("\n")) >= 0) {
      const line = buffer.slice(0, newline);
      buffer = buffer.slice(newline + 1);
      let parsed: Record<string, unknown>;
      try {
        parsed = JSON.parse(line) as Record<string, unknown>;
      } catch {
        parsed = { event: "stderr", line };
      }
      events.push(parsed);
      if (process.env.CLOUDBRIDGE_TEST_VERBOSE) process.stderr.write(`[${dir.split("/").pop()}] ${line}\n`);
      for (const w of waiters) {
        if (w.event !== parsed.event) continue;
        waiters.delete(w);
        w.resolve(parsed);
      }
    }
  });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const waitForEvent = (event: string, timeoutMs = 60_000) => {
    const seen = events.find((e) => e.event === event);
    if (seen) return Promise.resolve(seen);
    return new Promise<Record<string, unknown>>((resolve, reject) => {
      const timer = setTimeout(() => {
        waiters.delete(waiter);
        reject(
          new Error(`daemon ${dir} logged no ${event} within ${timeoutMs} ms; log:\n${events.map((e) => JSON.stringify(e)).join("\n")}`),
        );
      }, timeoutMs);
      const waiter = { event, resolve: (e: Record<string, unknown>) => (clearTimeout(timer), resolve(e)) };
      waiters.add(waiter);
      void exited.then((code) => {
        if (waiters.has(waiter)) {
          waiters.delete(waiter);
          clearTimeout(timer);
          reject(new Error(`daemon ${dir} exited (${code}) before ${event}; log:\n${events.map((e) => JSON.stringify(e)).join("\n")}`));
        }
      });
    });
  };
  const daemon: Daemon = {
    dir,
    process: child,
    events,
    waitForEvent,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      return exited;
    },
    kill9: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      await exited;
    },
  };
  if (options.ready !== false) await waitForEvent("daemon.ready");
  return daemon;
}

/** Polls `check` until it returns a value other than undefined/false; rejects with `what` after the timeout. */
export async function waitUntil<T>(
  check: () => Promise<T | undefined | false> | T | undefined | false,
  what: string,
  timeoutMs = 30_000,
  intervalMs = 20,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
