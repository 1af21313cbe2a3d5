import { spawn } from "node:child_process";
import { statSync } from "node:fs";
import { resolve } from "node:path";
import type { TestCloud } from "./local-cloud.ts";
import { GIT_ENV } from "./annex-repos.ts";

const NODE = resolve("node_modules/.bin/node");
const CLI = resolve("bin/cloudbridge");
/** The flags bin/cloudbridge runs the agent with, for workers that stand in for it. */
const AGENT_NODE_FLAGS = ["--disable-warning=ExperimentalWarning", "--max-semi-space-size=1"];

export interface ChildResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Peak resident set in KiB, when measured. */
  maxRssKiB: number;
}

export interface ChildOptions {
  cwd?: string;
  env?: Record<string, string>;
  killAfterMs?: number;
  /**
   * SIGKILL the child `afterMs` after `path` is written (appears, or changes if it existed): a transfer's
   * resumable record, so the kill lands inside the transfer.
   */
  killAfterFile?: { path: string; afterMs: number };
  /** Run under GNU time and report the child's peak RSS (getrusage of a child forked by `time`, not by this big test process). */
  measure?: boolean;
}

function runProcess(test: TestCloud, command: string, args: string[], options: ChildOptions): Promise<ChildResult> {
  const [file, argv] = options.measure ? ["/usr/bin/time", ["-f", "maxrss=%M", command, ...args]] : [command, args];
  return new Promise((done, fail) => {
    const child = spawn(file, argv, {
      cwd: options.cwd ?? process.cwd(),
      env: { ...process.env, ...test.cloud.env, ...GIT_ENV, ...options.env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const timer = options.killAfterMs === undefined ? undefined : setTimeout(() => child.kill("SIGKILL"), options.killAfterMs);
    const watch = options.killAfterFile;
    const mtime = () => statSync(watch!.path, { throwIfNoEntry: false })?.mtimeMs;
    const before = watch ? mtime() : undefined;
    const poll = watch
      ? setInterval(() => {
          const now = mtime();
          if (now === undefined || now === before) return;
          clearInterval(poll);
          setTimeout(() => child.kill("SIGKILL"), watch.afterMs);
        }, 5)
      : undefined;
    child.on("error", fail);
    child.on("close", (code, signal) => {
      if (timer) clearTimeout(timer);
      if (poll) clearInterval(poll);
      const match = /maxrss=(\d+)\s*$/.exec(stderr);
      done({
        code,
        signal,
        stdout,
        stderr: stderr.replace(/(Command exited with non-zero status \d+\n)?maxrss=\d+\s*$/, ""),
        maxRssKiB: match ? Number(match[1]) : NaN,
      });
    });
  });
}

/** A TypeScript worker (test/helpers/annex-worker.ts) run as the agent runs. */
export function runWorker(test: TestCloud, args: string[], options: ChildOptions = {}): Promise<ChildResult> {
  return runProcess(test, NODE, [...AGENT_NODE_FLAGS, resolve("test/helpers/annex-worker.ts"), ...args], options);
}

/** The cloudbridge CLI, exactly as a user runs it (bin/cloudbridge). */
export function runCli(test: TestCloud, cwd: string, args: string[], options: Omit<ChildOptions, "cwd"> = {}): Promise<ChildResult> {
  return runProcess(test, CLI, args, { ...options, cwd });
}
