import { ObjectMissing, PreconditionFailed, type ObjectStore } from "../objectstore/object-store.ts";
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
 */
export async function updateObject(
  store: ObjectStore,
  key: string,
  change: (current: Buffer | undefined) => Promise<string | undefined> | string | undefined,
): Promise<boolean> {
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const current = await store.get(key);
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
