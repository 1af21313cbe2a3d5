import { ObjectMissing, PreconditionFailed, type ObjectStore } from "../objectstore/index.ts";
import type { BucketLayout } from "../protocol/index.ts";

/**
 * `objects/info/cloudbridge-compaction-lease`: which machine compacts the repository's packs until when.
 * Compaction is safe beside another compaction (compaction.ts), so the lease only saves work: the machines
 * of an encrypted repository (which no cloud function can compact) do not all download every pack at once.
 * Taken by compare-and-swap (create, or replace an expired one), released by a conditional delete; a lease
 * whose holder died expires by itself.
 */
export interface CompactionLease {
  holder: string;
  until: string;
}

export const DEFAULT_LEASE_MS = 10 * 60_000;

/** Takes the lease for `holder`, or returns undefined when another holder's lease is still running. */
export async function takeCompactionLease(
  store: ObjectStore,
  layout: BucketLayout,
  repo: string,
  holder: string,
  options: { leaseMs?: number; now?: () => Date } = {},
): Promise<{ release(): Promise<void> } | undefined> {
  const key = layout.compactionLease(repo);
  const now = (options.now ?? (() => new Date()))();
  const current = await store.get(key, { maxBytes: 4096 }).catch(() => undefined);
  let lease: CompactionLease | undefined;
  if (current && current !== "not-modified") {
    try {
      lease = JSON.parse(current.body.toString()) as CompactionLease;
    } catch {
      lease = undefined; // a damaged lease is an expired one
    }
    if (lease && lease.holder !== holder && Date.parse(lease.until) > now.getTime()) return undefined;
  }
  const body: CompactionLease = { holder, until: new Date(now.getTime() + (options.leaseMs ?? DEFAULT_LEASE_MS)).toISOString() };
  let etag: string;
  try {
    ({ etag } = await store.put(key, `${JSON.stringify(body)}\n`, {
      ...(current && current !== "not-modified" ? { ifMatch: current.etag } : { ifNoneMatch: "*" as const }),
      contentType: "application/json",
    }));
  } catch (error) {
    if (error instanceof PreconditionFailed || error instanceof ObjectMissing) return undefined; // another machine took it first
    throw error;
  }
  return {
    release: () =>
      store.delete(key, { ifMatch: etag }).catch((error: unknown) => {
        if (!(error instanceof PreconditionFailed || error instanceof ObjectMissing)) throw error;
      }),
  };
}
