import type * as CliProgress from "cli-progress";
import { createRequire } from "node:module";
import { createLogger, type Logger } from "../log.ts";

/**
 * How commands talk to people and scripts: a human summary on stdout by default, one JSON object with
 * `--json`; progress on stderr as a bar with rate and ETA on a terminal, or a quiet line every few
 * seconds when stderr is a pipe or a log.
 */
export function emit(json: boolean | undefined, value: unknown, human: () => string): void {
  process.stdout.write(json ? `${JSON.stringify(value)}\n` : `${human()}\n`);
}

export function cliLogger(options: { json?: boolean; quiet?: boolean } = {}): Logger {
  return createLogger({ ...(options.json ? { json: true } : {}), level: options.quiet ? "warn" : "info" });
}

/**
 * cli-progress, loaded when a bar is first drawn on a terminal: loading it (and string-width, which it
 * requires) costs ~10 ms of every start, and a command run by a script, with --json or with stderr not a
 * terminal, never draws one (a no-op `cloudbridge sync` takes ~3x `git status` in all).
 */
export function cliProgress(): typeof CliProgress {
  return createRequire(import.meta.url)("cli-progress") as typeof CliProgress;
}

export interface Progress {
  update(done: number, total?: number): void;
  stop(): void;
}

export function progress(label: string, unit: "files" | "bytes", options: { quiet?: boolean } = {}): Progress {
  if (options.quiet) return { update: () => undefined, stop: () => undefined };
  if (process.stderr.isTTY) {
    const { SingleBar, Presets } = cliProgress();
    const bar = new SingleBar(
      {
        format: `${label} [{bar}] {percentage}% | {value}/{total} ${unit} | {speed}/s | ETA {eta_formatted}`,
        stream: process.stderr,
        hideCursor: true,
        clearOnComplete: true,
        etaBuffer: 50,
      },
      Presets.shades_classic,
    );
    let started = false;
    const began = Date.now();
    return {
      update(done, total) {
        if (!started) {
          bar.start(Math.max(total ?? done, 1), 0, { speed: "0" });
          started = true;
        }
        if (total !== undefined) bar.setTotal(Math.max(total, 1));
        else if (done > bar.getTotal()) bar.setTotal(done);
        bar.update(done, { speed: Math.round(done / Math.max((Date.now() - began) / 1000, 0.001)).toString() });
      },
      stop: () => started && bar.stop(),
    };
  }
  let last = 0;
  return {
    update(done, total) {
      if (Date.now() - last < 5000) return;
      last = Date.now();
      process.stderr.write(`${label}: ${done}${total ? `/${total}` : ""} ${unit}\n`);
    },
    stop: () => undefined,
  };
}
