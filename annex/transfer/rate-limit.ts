/**
 * A token bucket shared by every transfer in one direction: bytes are taken before they are sent (or as
 * they arrive), and a taker whose bytes are not covered waits until the rate has paid for them. Takers
 * queue in order (a debt carried by the bucket), so four parts in flight together still get the one
 * rate, not four times it. A rate of 0 means no limit; the rate can change while transfers run (a
 * person moving the slider) and applies from the next take.
 */
export class RateLimiter {
  private bytesPerSecond: number;
  /** Bytes that may go at once before the rate applies: a tenth of a second's worth. */
  private burst: number;
  private tokens: number;
  private last: number;

  constructor(bytesPerSecond = 0) {
    this.bytesPerSecond = bytesPerSecond;
    this.burst = bytesPerSecond / 10;
    this.tokens = this.burst;
    this.last = performance.now();
  }

  get rate(): number {
    return this.bytesPerSecond;
  }

  setRate(bytesPerSecond: number): void {
    this.refill();
    this.bytesPerSecond = Math.max(0, bytesPerSecond);
    this.burst = this.bytesPerSecond / 10;
    this.tokens = Math.min(this.tokens, this.burst);
  }

  /** Resolves once `bytes` may go (at once when unlimited). */
  async take(bytes: number, signal?: AbortSignal): Promise<void> {
    if (this.bytesPerSecond <= 0 || bytes <= 0) return;
    this.refill();
    this.tokens -= bytes;
    if (this.tokens >= 0) return;
    const waitMs = (-this.tokens / this.bytesPerSecond) * 1000;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(resolve, waitMs);
      signal?.addEventListener(
        "abort",
        () => {
          clearTimeout(timer);
          reject(signal.reason as Error);
        },
        { once: true },
      );
    });
  }

  private refill(): void {
    const now = performance.now();
    if (this.bytesPerSecond > 0) this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.bytesPerSecond);
    this.last = now;
  }
}
