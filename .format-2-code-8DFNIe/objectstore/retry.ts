import { setTimeout as sleep } from "node:timers/promises";

/**
 * How long to wait before attempt `attempt + 1`: a random time up to `baseMs · 2^(attempt-1)` (full
 * jitter, so writers that collided spread apart instead of colliding again), never more than `capMs` (so
 * a long outage is probed again soon after it ends).
 */
export function backoffDelay(attempt: number, options: { baseMs?: number; capMs?: number } = {}): number {
  return Math.random() * Math.min(options.capMs ?? 5_000, (options.baseMs ?? 100) * 2 ** Math.min(attempt - 1, 30));
}

export interface RetryOptions {
  /** Attempts in all, the first included. */
  attempts?: number;
  /** The first wait's upper bound; each later one doubles it, up to `capDelayMs`. */
  baseDelayMs?: number;
  capDelayMs?: number;
  signal?: AbortSignal;
}

/**
 * The one retry loop for work against the bucket: runs `work` again while it fails with an error
 * `retryable` accepts, with `backoffDelay` between attempts, until the attempts are spent or `signal`
 * aborts. `giveUp` names what is thrown when the attempts are spent (the last error by default). The SDK
 * retries each request itself; what is retried here is what it cannot see (a body cut after its answer
 * began, a 409 that AWS asks the caller to retry, a whole streamed transfer).
 */
export async function retry<T>(
  work: (attempt: number) => Promise<T>,
  retryable: (error: unknown) => boolean,
  options: RetryOptions & { giveUp?: (error: unknown, attempts: number) => unknown } = {},
): Promise<T> {
  const attempts = options.attempts ?? 5;
  for (let attempt = 1; ; attempt++) {
    try {
      return await work(attempt);
    } catch (error) {
      if (!retryable(error) || options.signal?.aborted) throw error;
      if (attempt >= attempts) throw options.giveUp ? options.giveUp(error, attempts) : error;
      const delay = backoffDelay(attempt, { baseMs: options.baseDelayMs, capMs: options.capDelayMs });
      await sleep(delay, undefined, options.signal ? { signal: options.signal } : {});
    }
  }
}
