import { createReadStream } from "node:fs";
import { readFile } from "node:fs/promises";
import { PreconditionFailed, type ObjectStore } from "../objectstore/object-store.ts";
import type { BucketLayout } from "../protocol/layout.ts";
import { updateObject } from "./conditional-update.ts";
import type { PackFiles } from "./engine.ts";
import { parseInfoPacks, writeInfoPacks } from "./info-packs.ts";

/**
 * Packs in the bucket. A pack is content-named and written with If-None-Match: *, so writing one that is
 * already there (a retried push) is a no-op; the pack goes up before its index, and the index before the
 * pack is listed in objects/info/packs, so no reader ever sees a listed pack it cannot use.
 */
export async function uploadPack(store: ObjectStore, layout: BucketLayout, repo: string, pack: PackFiles): Promise<void> {
  await createOnce(() =>
    store.upload(layout.pack(repo, `${pack.name}.pack`), createReadStream(pack.packPath), {
      ifNoneMatch: "*",
      contentType: "application/x-git-packed-objects",
    }),
  );
  await createOnce(async () =>
    store.put(layout.pack(repo, `${pack.name}.idx`), await readFile(pack.idxPath), {
      ifNoneMatch: "*",
      contentType: "application/x-git-packed-objects-toc",
    }),
  );
}

async function createOnce(write: () => Promise<unknown>): Promise<void> {
  try {
    await write();
  } catch (error) {
    if (!(error instanceof PreconditionFailed)) throw error;
  }
}

/** The live packs, as objects/info/packs lists them (oldest first). */
export async function readInfoPacks(store: ObjectStore, layout: BucketLayout, repo: string): Promise<string[]> {
  const key = layout.infoPacks(repo);
  const current = await store.get(key);
  return current && current !== "not-modified" ? parseInfoPacks(current.body, key) : [];
}

/** Adds and removes names in objects/info/packs by compare-and-swap. */
export async function editInfoPacks(
  store: ObjectStore,
  layout: BucketLayout,
  repo: string,
  edit: { add?: readonly string[]; remove?: readonly string[] },
): Promise<void> {
  const key = layout.infoPacks(repo);
  await updateObject(store, key, (body) => {
    const names = body ? parseInfoPacks(body, key) : [];
    const kept = names.filter((name) => !edit.remove?.includes(name));
    for (const name of edit.add ?? []) if (!kept.includes(name)) kept.push(name);
    return writeInfoPacks(kept);
  });
}
