import { createHash } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import {
  backoffDelay,
  ObjectMissing,
  ObjectTooLarge,
  PreconditionFailed,
  type ObjectStore,
  type StoredObject,
} from "../objectstore/index.ts";
import { GitStoreError } from "./errors.ts";

/**
 * Waits a random time that grows with the attempt, so racing writers spread out ("full jitter"). The wait
 * also scales with `windowMs`, how long the attempt that lost held what it read before its write — the
 * time in which another writer could come first. Writers whose attempts take seconds (a merge and its
 * pack, on a loaded machine) then spread over seconds instead of retrying into the same race every few
 * milliseconds, which only adds their work to everyone's (bench/many-agents.ts measures it).
 */
export function jitter(attempt: number, windowMs = 0): Promise<void> {
  const window = Math.max(0, windowMs);
  return sleep(backoffDelay(attempt + 1, { baseMs: Math.max(20, window), capMs: Math.max(1000, Math.min(MAX_WAIT_MS, 8 * window)) }));
}

/**
 * Milliseconds on a monotonic clock, to measure how long a read was held: process.uptime's (the clock
 * `performance.now()` reads too), since the global `performance` loads perf_hooks at its first use, ~1 ms
 * of CPU in the middle of every push a short-lived process makes.
 */
export function monotonicMs(): number {
  return process.uptime() * 1000;
}

/** The longest one wait between two attempts of a compare-and-swap. */
const MAX_WAIT_MS = 10_000;

export const MAX_ATTEMPTS = 12;

/**
 * Read-modify-write of one small object by compare-and-swap: read it (and its ETag), compute the new
 * body, write it with If-Match (or If-None-Match: * when it did not exist); if someone wrote in between,
 * start over. `change` returns undefined when nothing needs writing. Bounded, with jittered waits.
 * `prefetched` is a read of the object started earlier (to save a round trip); a stale one only costs a retry.
 * The current body is read with a byte limit (`maxBytes`); with `replace`, it is not read at all (only its
 * ETag, by HEAD): the new body does not depend on it. `onWritten` hears the version written.
 */
export async function updateObject(
  store: ObjectStore,
  key: string,
  change: (current: Buffer | undefined, exists: boolean) => Promise<string | undefined> | string | undefined,
  prefetched?: Promise<StoredObject | undefined | "not-modified">,
  options: { maxBytes?: number; replace?: boolean; onWritten?: (written: { etag: string; body: string }) => Promise<void> } = {},
): Promise<boolean> {
  const read = async (): Promise<{ etag: string; body?: Buffer } | undefined> => {
    if (options.replace) return store.head(key);
    const current = await store.get(key, options.maxBytes !== undefined ? { maxBytes: options.maxBytes } : {}).catch((error: unknown) => {
      throw error instanceof ObjectTooLarge ? objectTooLarge(error) : error;
    });
    return current && current !== "not-modified" ? current : undefined;
  };
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const readAt = monotonicMs();
    const early =
      attempt === 0 && prefetched && !options.replace
        ? await prefetched.then(
            (object) => ({ object }),
            () => undefined,
          )
        : undefined;
    const object = early?.object === "not-modified" ? undefined : early?.object;
    const existing = early && (!object || within(object, options.maxBytes)) ? object : await read();
    const body = await change(existing?.body, existing !== undefined);
    if (body === undefined || (existing && unchanged(existing, body))) return false;
    try {
      const written = await store.put(key, body, existing ? { ifMatch: existing.etag } : { ifNoneMatch: "*" });
      await options.onWritten?.({ etag: written.etag, body });
      return true;
    } catch (error) {
      if (!(error instanceof PreconditionFailed || error instanceof ObjectMissing)) throw error;
      await jitter(attempt, monotonicMs() - readAt);
    }
  }
  throw new GitStoreError("too-many-conflicts", `${key} kept changing under us (${MAX_ATTEMPTS} attempts); try again.`);
}

/** The stored object already holds `body`: same bytes, or (not read) an ETag that is the MD5 of `body`, as S3 gives a single PUT. */
function unchanged(existing: { etag: string; body?: Buffer }, body: string): boolean {
  if (existing.body) return existing.body.toString() === body;
  return existing.etag === createHash("md5").update(body).digest("hex");
}

function within(object: StoredObject, maxBytes: number | undefined): boolean {
  return maxBytes === undefined || object.body.length <= maxBytes;
}

/** A bounded read from the bucket found more than the bound: what it was, and what to do. */
export function objectTooLarge(error: ObjectTooLarge): GitStoreError {
  return new GitStoreError(
    "list-too-large",
    `${error.key} in the bucket holds ${error.size} bytes or more, over the ${error.limit} bytes cloudbridge reads of it; ` +
      "it was damaged or written by something other than cloudbridge. Nothing was changed locally. Rewrite or delete it.",
  );
}
