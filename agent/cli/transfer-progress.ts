import type * as CliProgress from "cli-progress";
import { cliProgress } from "./output.ts";

/**
 * Progress of transfers for a person: on a terminal, one cli-progress bar per file in flight with rate and
 * ETA; otherwise (a log, a pipe, --json) nothing until a file finishes, then one quiet line.
 */
export interface TransferProgress {
  /** A progress callback for one file. */
  track(label: string): (done: number, total: number) => void;
  finish(label: string, line: string): void;
  stop(): void;
}

export function transferProgress(options: { json?: boolean; stream?: NodeJS.WriteStream } = {}): TransferProgress {
  const stream = options.stream ?? process.stderr;
  if (options.json || !stream.isTTY) {
    return {
      track: () => () => {},
      finish: (_label, line) => {
        if (!options.json) stream.write(`${line}\n`);
      },
      stop: () => {},
    };
  }
  const { MultiBar, Presets } = cliProgress();
  const bars = new MultiBar(
    {
      stream,
      format: " {bar} {percentage}% | {label} | {rate} | ETA {eta_formatted}",
      hideCursor: true,
      clearOnComplete: true,
      etaBuffer: 50,
    },
    Presets.shades_classic,
  );
  const active = new Map<string, { bar: CliProgress.SingleBar; started: number }>();
  return {
    track(label) {
      return (done, total) => {
        let entry = active.get(label);
        if (!entry) {
          entry = { bar: bars.create(total, 0, { label, rate: "" }), started: Date.now() };
          active.set(label, entry);
        }
        entry.bar.setTotal(total);
        entry.bar.update(done, { label, rate: transferRate(done, Date.now() - entry.started) });
      };
    },
    finish(label, line) {
      const entry = active.get(label);
      if (entry) {
        bars.remove(entry.bar);
        active.delete(label);
      }
      bars.log(`${line}\n`);
    },
    stop: () => bars.stop(),
  };
}

/**
 * The rate a person reads: none before a second has passed. The first samples come a few milliseconds
 * after the bar appears, with a buffer or a resumed part already counted, and read as several GiB/s.
 */
export const RATE_AFTER_MS = 1000;

export function transferRate(bytesDone: number, elapsedMs: number): string {
  if (elapsedMs < RATE_AFTER_MS) return "…/s";
  return `${formatBytes(bytesDone / (elapsedMs / 1000))}/s`;
}

export function formatBytes(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(unit === 0 ? 0 : 1)} ${units[unit]}`;
}
