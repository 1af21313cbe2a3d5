/**
 * How long the daemon waits before retrying work that failed (a sync round, a transfer): doubling from
 * `baseMs` with each failure in a row, never more than `capMs`, and back to the start as soon as the work
 * succeeds once. The cap keeps a machine that was offline from sitting idle long after the network is
 * back; the jitter (each wait is between half and all of its step) keeps machines that failed together
 * from retrying together.
 */
export const RETRY_BASE_MS = 1000;
export const RETRY_CAP_MS = 10_000;

export class Backoff {
  private failures = 0;
  private readonly baseMs: number;
  private readonly capMs: number;

  constructor(baseMs = RETRY_BASE_MS, capMs = RETRY_CAP_MS) {
    this.baseMs = baseMs;
    this.capMs = capMs;
  }

  /** Counts one more failure and returns the wait before the next attempt. */
  next(): number {
    this.failures += 1;
    const step = Math.min(this.capMs, this.baseMs * 2 ** Math.min(this.failures - 1, 30));
    return Math.round(step / 2 + (Math.random() * step) / 2);
  }

  /** The work succeeded: the next failure waits `baseMs` again. */
  reset(): void {
    this.failures = 0;
  }
}
