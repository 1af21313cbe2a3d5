import { createReadStream, createWriteStream } from "node:fs";
import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import { setTimeout as sleep } from "node:timers/promises";
import { backoffDelay, ObjectTooLarge, PreconditionFailed, type ObjectStore, type StoredObject } from "../objectstore/index.ts";
import type { BucketLayout } from "../protocol/index.ts";
import { objectTooLarge, updateObject } from "./conditional-update.ts";
import { GitStoreError } from "./errors.ts";
import { checkIndexMatchesPack, parsePackIndex, verifyPackFile, type PackIndex } from "./pack-format.ts";
import type { PackFiles } from "./engine.ts";
import { parseInfoPacks, writeInfoPacks } from "./info-packs.ts";
import { MAX_PACK_LIST_BYTES } from "./limits.ts";
import { cachedPackList, rememberPackList } from "./refs-index.ts";
import type { RepoContext } from "./repo-context.ts";

const PACK_READ_ATTEMPTS = 4;

/**
 * Packs in the bucket. A pack is content-named and written with If-None-Match: *, so writing one that is
 * already there (a retried push) is a no-op; both are complete before the pack is listed in
 * objects/info/packs, so no reader ever sees a listed pack it cannot use.
 */
export async function uploadPack(store: ObjectStore, layout: BucketLayout, repo: string, pack: PackFiles): Promise<void> {
  const packOptions = { ifNoneMatch: "*" as const, contentType: "application/x-git-packed-objects" };
  const packKey = layout.pack(repo, `${pack.name}.pack`);
  // Small packs (nearly every push) go up in one PUT; large ones stream in parts, never whole in memory.
  const { size } = await stat(pack.packPath);
  const [packBody, idxBody] = await Promise.all([size <= SINGLE_PUT_LIMIT ? readFile(pack.packPath) : undefined, readFile(pack.idxPath)]);
  // Pack and idx go up together (the pack's request first): readers only use packs that
  // objects/info/packs lists, and that is written after both are complete.
  // A large pack a retried push already sent is not sent again (If-None-Match would refuse it only at the end).
  const present = packBody ? undefined : await store.head(packKey);
  await Promise.all([
    present?.size === size
      ? undefined
      : createOnce(() =>
          packBody ? store.put(packKey, packBody, packOptions) : store.upload(packKey, () => createReadStream(pack.packPath), packOptions),
        ),
    createOnce(() =>
      store.put(layout.pack(repo, `${pack.name}.idx`), idxBody, { ifNoneMatch: "*", contentType: "application/x-git-packed-objects-toc" }),
    ),
  ]);
}

/** Packs up to this size go up in one PUT (read whole); larger ones are streamed in parts. */
export const SINGLE_PUT_LIMIT = 8 * 1024 * 1024;

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
  const current = await readInfoPacksObject(store, layout, repo);
  return current && current !== "not-modified" ? parseInfoPacks(current.body, key) : [];
}

/** objects/info/packs as stored (read with its bound), for `editInfoPacks`' `prefetched`. */
export function readInfoPacksObject(store: ObjectStore, layout: BucketLayout, repo: string, ifNoneMatch?: string) {
  return store
    .get(layout.infoPacks(repo), { maxBytes: MAX_PACK_LIST_BYTES, ...(ifNoneMatch ? { ifNoneMatch } : {}) })
    .catch((error: unknown) => {
      throw error instanceof ObjectTooLarge ? objectTooLarge(error) : error;
    });
}

/**
 * The live packs of the repository of `ctx`, read conditionally on the list this machine saw last (a 304
 * costs no bytes), which it then remembers for the next read and for `addToPackList`. With `reread`, read
 * whole whatever is remembered (what was read may have been a moment too old).
 */
export async function readLivePacks(ctx: RepoContext, options: { reread?: boolean } = {}): Promise<string[]> {
  const key = ctx.layout.infoPacks(ctx.repo);
  const cached = options.reread ? undefined : await cachedPackList(ctx);
  const current = await readInfoPacksObject(ctx.store, ctx.layout, ctx.repo, cached?.etag);
  if (current === "not-modified") return parseInfoPacks(cached!.body, key);
  if (!current) return [];
  await rememberPackList(ctx, { etag: current.etag, body: current.body.toString() });
  return parseInfoPacks(current.body, key);
}

/**
 * Lists `names` in objects/info/packs by compare-and-swap, written on top of the list this machine saw
 * last without reading it first (If-Match on its ETag: a 412 says it moved, and only then is it read).
 * `replaced`: packs whose every object is in one of `names` (folded into it), unlisted in the same write;
 * they stay in the bucket for readers that listed them a moment ago, until compaction retires them as
 * orphans and deletes them after its grace period. Returns once the list is written: `remembered` is this
 * machine's note of it, queued (what reads the note next sees it) and still being saved, for the caller to
 * await before it is done.
 */
export async function addToPackList(
  ctx: RepoContext,
  names: readonly string[],
  replaced: readonly string[] = [],
): Promise<{ remembered: Promise<void> }> {
  const cached = await cachedPackList(ctx);
  const key = ctx.layout.infoPacks(ctx.repo);
  const prefetched = cached
    ? Promise.resolve({ key, etag: cached.etag, size: cached.body.length, lastModified: new Date(0), body: Buffer.from(cached.body) })
    : undefined;
  let remembered: Promise<void> = Promise.resolve();
  await editInfoPacks(ctx.store, ctx.layout, ctx.repo, { add: names, remove: replaced }, prefetched, async (written) => {
    remembered = rememberPackList(ctx, written);
    remembered.catch(() => {}); // awaited by the caller
  });
  return { remembered };
}

/** The live packs as this machine last read or wrote objects/info/packs (no request), or undefined when it has not. */
export async function rememberedLivePacks(ctx: RepoContext): Promise<string[] | undefined> {
  const cached = await cachedPackList(ctx);
  return cached ? parseInfoPacks(cached.body, ctx.layout.infoPacks(ctx.repo)) : undefined;
}

/** Adds and removes names in objects/info/packs by compare-and-swap (from `prefetched`, a read started earlier, if given). */
export async function editInfoPacks(
  store: ObjectStore,
  layout: BucketLayout,
  repo: string,
  edit: { add?: readonly string[]; remove?: readonly string[] },
  prefetched?: Promise<StoredObject | undefined | "not-modified">,
  onWritten?: (written: { etag: string; body: string }) => Promise<void>,
): Promise<void> {
  const key = layout.infoPacks(repo);
  await updateObject(
    store,
    key,
    (body) => {
      const names = body ? parseInfoPacks(body, key) : [];
      const kept = names.filter((name) => !edit.remove?.includes(name));
      for (const name of edit.add ?? []) if (!kept.includes(name)) kept.push(name);
      return writeInfoPacks(kept);
    },
    prefetched,
    { maxBytes: MAX_PACK_LIST_BYTES, ...(onWritten ? { onWritten } : {}) },
  );
}

/**
 * Downloads pack `name` into `dir` (as `<name>.pack`, streamed) and checks it against its name and the
 * bucket's index before anything else reads it: the trailing checksum must equal the name, the index
 * must name this pack and count as many objects. Returns the bytes downloaded and the bucket's index
 * (not written to disk: whoever uses the pack indexes it, or checks it, itself). With `indexOptional`, a
 * pack whose idx is missing is still downloaded (compaction re-indexes it) and `index` is undefined.
 */
export async function downloadPack(
  store: ObjectStore,
  layout: BucketLayout,
  repo: string,
  name: string,
  dir: string,
  options: { indexOptional?: boolean } = {},
): Promise<{ bytes: number; index?: { parsed: PackIndex; body: Buffer } }> {
  const where = layout.repoRoot(repo);
  const idx = await store.get(layout.pack(repo, `${name}.idx`));
  const gone = () =>
    new GitStoreError(
      "missing-pack",
      `The pack ${name} is listed in ${where}objects/info/packs but is not in the bucket. Nothing was changed locally; ` +
        "if compaction just ran, fetch again.",
    );
  const idxBody = idx && idx !== "not-modified" ? idx.body : undefined;
  if (!idxBody && !options.indexOptional) {
    if (!(await store.head(layout.pack(repo, `${name}.pack`)))) throw gone();
    throw new GitStoreError(
      "missing-idx",
      `The pack ${name} in ${where} has no index (${name}.idx is missing), so plain git cannot read it either. ` +
        "Nothing was changed locally. `cloudbridge compact` rebuilds it (it indexes packs itself), or push again " +
        "from a machine that has these commits.",
    );
  }
  const packPath = join(dir, `${name}.pack`);
  for (let attempt = 1; ; attempt++) {
    const stream = await store.getStream(layout.pack(repo, `${name}.pack`));
    if (!stream) throw gone();
    try {
      await pipeline(stream.stream, createWriteStream(packPath));
      break;
    } catch (error) {
      // A body cut off mid-way (a dropped connection; the SDK retries only until the answer begins) is read
      // again from the start, a few times: packs never change. A local write error is not retried.
      if (attempt >= PACK_READ_ATTEMPTS || (error as NodeJS.ErrnoException).syscall) throw error;
      await sleep(backoffDelay(attempt + 1));
    }
  }
  const pack = await verifyPackFile(packPath, name);
  if (pack.name !== name) {
    throw new GitStoreError("corrupt-pack", `The pack ${name} in the bucket has the content of ${pack.name}: it was altered or replaced.`);
  }
  const bytes = (await stat(packPath)).size;
  if (!idxBody) return { bytes };
  const parsed = parsePackIndex(idxBody, `${name}.idx`);
  checkIndexMatchesPack(parsed, pack, name);
  return { bytes: bytes + idxBody.length, index: { parsed, body: idxBody } };
}
