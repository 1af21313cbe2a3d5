import { ObjectMissing, PreconditionFailed, type ObjectStore, type StoredObject } from "../objectstore/index.ts";
import { GitStoreError } from "./errors.ts";

/** Waits a random time that grows with the attempt, so racing writers spread out. */
export function jitter(attempt: number): Promise<void> {
  const ms = Math.random() * Math.min(1000, 20 * 2 ** attempt);
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export const MAX_ATTEMPTS = 12;

/**
 * Read-modify-write of one small object by compare-and-swap: read it (and its ETag), compute the new
 * body, write it with If-Match (or If-None-Match: * when it did not exist); if someone wrote in between,
 * start over. `change` returns undefined when nothing needs writing. Bounded, with jittered waits.
 * `prefetched` is a read of the object started earlier (to save a round trip); a stale one only costs a retry.
 */
export async function updateObject(
  store: ObjectStore,
  key: string,
  change: (current: Buffer | undefined) => Promise<string | undefined> | string | undefined,
  prefetched?: Promise<StoredObject | undefined | "not-modified">,
): Promise<boolean> {
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const current = attempt === 0 && prefetched ? await prefetched.catch(() => store.get(key)) : await store.get(key);
    const existing = current && current !== "not-modified" ? current : undefined;
    const body = await change(existing?.body);
    if (body === undefined || (existing && existing.body.toString() === body)) return false;
    try {
      await store.put(key, body, existing ? { ifMatch: existing.etag } : { ifNoneMatch: "*" });
      return true;
    } catch (error) {
      if (!(error instanceof PreconditionFailed || error instanceof ObjectMissing)) throw error;
      await jitter(attempt);
    }
  }
  throw new GitStoreError("too-many-conflicts", `${key} kept changing under us (${MAX_ATTEMPTS} attempts); try again.`);
}
