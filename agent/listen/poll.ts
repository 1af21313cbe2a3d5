import type { ObjectStore } from "../../objectstore/index.ts";
import { BucketLayout, type RemoteLocation } from "../../protocol/index.ts";
import type { ChangeListener, ListenerHealth } from "./listener.ts";

/**
 * With no notifications configured: one HEAD of the repository's `info/refs` per interval. A push
 * rewrites `info/refs` last (the write order in docs/architecture.md), so an unchanged ETag means no ref moved, whatever
 * moved inside the repository. Only the ETag is read, never the body (anyone who can write can make it huge).
 */
export class PollListener implements ChangeListener {
  readonly kind = "poll" as const;
  requests = 0;
  readonly health: ListenerHealth = { working: false };
  private readonly key: string;
  private etag: string | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private readonly store: ObjectStore;
  private readonly intervalMs: number;
  private readonly onError: (error: unknown) => void;

  constructor(store: ObjectStore, location: RemoteLocation, intervalMs: number, onError: (error: unknown) => void = () => undefined) {
    this.store = store;
    this.intervalMs = intervalMs;
    this.onError = onError;
    this.key = new BucketLayout(location.prefix).infoRefs(location.repo);
  }

  get detail(): string {
    return `a look at the bucket every ${Math.round(this.intervalMs / 1000)} s`;
  }

  async start(onHint: (message: undefined) => void): Promise<void> {
    await this.check(); // learn the current ETag: the daemon's first round already covers it
    const tick = async () => {
      if (this.stopped) return;
      try {
        if (await this.check()) onHint(undefined);
      } catch (error) {
        this.health.working = false;
        this.health.error = (error as Error).message;
        this.onError(error);
      }
      if (!this.stopped) this.timer = setTimeout(tick, this.intervalMs);
    };
    this.timer = setTimeout(tick, this.intervalMs);
  }

  /** True when `info/refs` changed since the last look. */
  private async check(): Promise<boolean> {
    this.requests += 1;
    const etag = (await this.store.head(this.key))?.etag;
    this.health.working = true;
    delete this.health.error;
    const changed = etag !== this.etag;
    this.etag = etag;
    return changed;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
  }
}
