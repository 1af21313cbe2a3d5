/**
 * A token bucket shared by every transfer in one direction: bytes are taken before they are sent (or as
 * they arrive), and a taker whose bytes are not covered waits until the rate has paid for them. Takers
 * queue in order (a debt carried by the bucket), so four parts in flight together still get the one
 * rate, not four times it. The bucket holds a tenth of a second's worth, or one request's worth when a
 * request is larger (an upload part is sent whole): it starts full, so the first request goes at once and
 * the last one's own sending time is not added to the transfer's. A rate of 0 means no limit; the rate can
 * change while transfers run (a person moving the slider) and applies from the next take.
 */
export class RateLimiter {
  private bytesPerSecond: number;
  private capacity: number;
  /** Undefined until the first take: the bucket starts full, at the size the first request shows it needs. */
  private tokens: number | undefined;
  private last: number;

  constructor(bytesPerSecond = 0) {
    this.bytesPerSecond = Math.max(0, bytesPerSecond);
    this.capacity = this.bytesPerSecond / 10;
    this.last = performance.now();
  }

  get rate(): number {
    return this.bytesPerSecond;
  }

  setRate(bytesPerSecond: number): void {
    if (bytesPerSecond === this.bytesPerSecond) return;
    this.refill();
    this.bytesPerSecond = Math.max(0, bytesPerSecond);
    this.capacity = this.bytesPerSecond / 10;
    if (this.tokens !== undefined) this.tokens = Math.min(this.tokens, this.capacity);
  }

  /** Resolves once `bytes` may go (at once when unlimited). */
  async take(bytes: number, signal?: AbortSignal): Promise<void> {
    if (this.bytesPerSecond <= 0 || bytes <= 0) return;
    this.capacity = Math.max(this.capacity, bytes);
    this.refill();
    this.tokens = (this.tokens ?? this.capacity) - bytes;
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
    if (this.bytesPerSecond > 0 && this.tokens !== undefined)
      this.tokens = Math.min(this.capacity, this.tokens + ((now - this.last) / 1000) * this.bytesPerSecond);
    this.last = now;
  }
}
