import type { ActiveTransfer } from "./folder-status.ts";

/**
 * Transfers in flight, for the page: each file's bytes so far, a rate over the last few seconds and the
 * time left at that rate. Fed by the annex's per-file progress; costs a map update per chunk, nothing when
 * nothing moves.
 */
interface Tracked extends ActiveTransfer {
  samples: Array<{ at: number; done: number }>;
}

const WINDOW_MS = 3000;

export class TransferMonitor {
  private readonly active = new Map<string, Tracked>();
  private readonly onChange: () => void;

  constructor(onChange: () => void = () => undefined) {
    this.onChange = onChange;
  }

  progress(direction: "up" | "down", key: string, path: string | undefined, done: number, total: number): void {
    const id = `${direction}:${key}`;
    const now = Date.now();
    const tracked = this.active.get(id) ?? { direction, key, ...(path ? { path } : {}), done: 0, total, rate: 0, samples: [] };
    tracked.done = done;
    tracked.total = total;
    tracked.samples.push({ at: now, done });
    while (tracked.samples.length > 2 && now - tracked.samples[0]!.at > WINDOW_MS) tracked.samples.shift();
    const first = tracked.samples[0]!;
    const seconds = (now - first.at) / 1000;
    tracked.rate = seconds > 0 ? (done - first.done) / seconds : 0;
    if (tracked.rate > 0) tracked.etaSeconds = Math.max(0, (total - done) / tracked.rate);
    this.active.set(id, tracked);
    if (done >= total) this.active.delete(id);
    this.onChange();
  }

  /** A transfer ended (done or failed). */
  finished(direction: "up" | "down", key: string): void {
    if (this.active.delete(`${direction}:${key}`)) this.onChange();
  }

  list(): ActiveTransfer[] {
    return [...this.active.values()].map(({ samples: _samples, ...transfer }) => transfer);
  }
}
