import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ObjectTooLarge, PreconditionFailed, type ObjectInfo, type ObjectStore, mapLimit } from "../objectstore/index.ts";
import { ProtocolError, type BucketLayout } from "../protocol/index.ts";
import { downloadPack, editInfoPacks, readInfoPacksObject, uploadPack } from "./bucket-packs.ts";
import { objectTooLarge, updateObject } from "./conditional-update.ts";
import type { GitEngine, PackFiles } from "./engine.ts";
import { GitStoreError } from "./errors.ts";
import { parseInfoPacks, writeInfoPacks } from "./info-packs.ts";
import { MAX_PACK_LIST_BYTES } from "./limits.ts";
import { parsePackIndex } from "./pack-format.ts";
import { parseRetiredPacks, writeRetiredPacks } from "./retired-packs.ts";

export const DEFAULT_GRACE_MS = 15 * 60 * 1000;

export interface CompactionOptions {
  store: ObjectStore;
  layout: BucketLayout;
  repo: string;
  /** Native git in the agent, isomorphic-git in Lambda. */
  engine: GitEngine;
  /** How long a retired pack stays readable before it is deleted (default 15 minutes). */
  graceMs?: number;
  /** The clock (tests move it forward instead of sleeping). */
  now?: () => Date;
  /** Merge only when objects/info/packs lists at least this many packs (default 2). */
  minPacks?: number;
  /**
   * Merge at most this many bytes of packs in one run, the smallest first; the larger ones stay as they
   * are (isomorphic-git holds every pack it combines, and the result, in memory). Default: no bound.
   */
  maxMergeBytes?: number;
  /** Where packs are downloaded and combined (default the system temp dir; /tmp in Lambda). */
  workDir?: string;
  log?: (line: string) => void;
}

export interface CompactionReport {
  /** The new pack that replaced `merged`, if packs were merged. */
  published?: string;
  merged: string[];
  objectCount: number;
  /** Packs newly retired: the merged ones, and orphans (uploaded by a push that never listed them). */
  retired: string[];
  /** Retired packs whose grace period was over, deleted from the bucket. */
  deleted: string[];
  /** Retired packs that a push listed again: kept. */
  revived: string[];
}

/**
 * Compacts a repository in the bucket: merges the packs objects/info/packs lists into one, publishes it
 * (pack, idx, then objects/info/packs with the merged ones swapped out, by compare-and-swap, so packs a
 * concurrent push adds are kept), and retires the merged packs with a timestamp. Retired packs are
 * deleted only on a later run, once `graceMs` has passed, so a reader that listed them just before still
 * finds them. Safe to run concurrently with pushes, fetches and another compaction; every step can be
 * interrupted and is completed by the next run.
 */
export async function compactRepository(options: CompactionOptions): Promise<CompactionReport> {
  const { store, layout, repo } = options;
  const now = options.now ?? (() => new Date());
  const graceMs = options.graceMs ?? DEFAULT_GRACE_MS;
  const report: CompactionReport = { merged: [], objectCount: 0, retired: [], deleted: [], revived: [] };

  const inBucket = await listPacks(store, layout, repo);
  const retiredKey = layout.retiredPacks(repo);
  const retiredNow = await store.get(retiredKey, { maxBytes: MAX_PACK_LIST_BYTES }).catch((error: unknown) => {
    throw error instanceof ObjectTooLarge ? objectTooLarge(error) : error;
  });
  const retired = retiredNow && retiredNow !== "not-modified" ? parseRetiredPacks(retiredNow.body, retiredKey) : new Map<string, Date>();
  let live = await livePacks(options, inBucket);

  // 1. Delete what was retired more than a grace period ago (unless a push has listed it again).
  for (const [name, at] of retired) {
    if (live.includes(name)) report.revived.push(name);
    else if (now().getTime() - at.getTime() >= graceMs) {
      await store.delete(layout.pack(repo, `${name}.pack`));
      await store.delete(layout.pack(repo, `${name}.idx`));
      report.deleted.push(name);
    }
  }
  // 2. Retire orphans: packs no list names, older than the grace period (a push in flight is younger).
  const orphans = [...inBucket].filter(
    ([name, files]) =>
      !live.includes(name) && !retired.has(name) && files.every((file) => now().getTime() - file.lastModified.getTime() >= graceMs),
  );
  report.retired.push(...orphans.map(([name]) => name));

  // 3. Merge the live packs into one and publish it before anything is retired.
  const minPacks = Math.max(2, options.minPacks ?? 2);
  const mergeable = withinBytes(live, inBucket, options.maxMergeBytes ?? Infinity);
  if (mergeable.length < live.length)
    options.log?.(`${live.length - mergeable.length} packs are too large to merge in memory; left as they are`);
  if (mergeable.length >= minPacks) {
    const work = await mkdtemp(join(options.workDir ?? tmpdir(), "cloudbridge-compact-"));
    try {
      const merged = mergeable;
      // The bucket's indexes tell the engine where objects are, which spares indexing every pack here; one
      // that lies about its objects (its checksum made to fit) shows in the combined pack, and then every
      // pack is indexed from its own bytes, which cannot lie, and combined again.
      let combined = await combine(options, merged, work, { reindex: false });
      if (!combined) {
        options.log?.(`a pack index in the bucket does not match its pack; indexing the ${merged.length} packs here`);
        combined = await combine(options, merged, work, { reindex: true });
      }
      if (!combined) {
        throw new GitStoreError(
          "corrupt-pack",
          `Compaction of ${layout.repoRoot(repo)} produced a pack that does not hold exactly the merged packs' objects; ` +
            "nothing was published. Run it again; if it fails again, report it with the names of the repository's packs.",
        );
      }
      options.log?.(`merged ${merged.length} packs into ${combined.name} (${combined.objectCount} objects)`);
      await uploadPack(store, layout, repo, combined);
      const retiring = merged.filter((name) => name !== combined.name);
      await editInfoPacks(store, layout, repo, { add: [combined.name], remove: retiring });
      report.published = combined.name;
      report.merged = merged;
      report.objectCount = combined.objectCount;
      report.retired.push(...retiring);
      live = [combined.name, ...live.filter((name) => !merged.includes(name))];
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  }

  // 4. Record retirements and deletions in one compare-and-swap of the retired list.
  if (report.retired.length > 0 || report.deleted.length > 0 || report.revived.length > 0) {
    await updateObject(
      store,
      retiredKey,
      (body) => {
        const current = body ? parseRetiredPacks(body, retiredKey) : new Map<string, Date>();
        for (const name of [...report.deleted, ...report.revived]) current.delete(name);
        for (const name of report.retired) if (!current.has(name)) current.set(name, now());
        return writeRetiredPacks(current);
      },
      undefined,
      { maxBytes: MAX_PACK_LIST_BYTES },
    );
  }
  return report;
}

/**
 * The live packs, as objects/info/packs lists them. A list with a line that names no pack (`..`, a path,
 * anything but `P pack-<sha>.pack`: damaged, or written by someone other than git or cloudbridge) stops
 * every reader, and their error sends the person here: the list is rewritten from the bucket itself, every
 * pack whose .pack and .idx are both there, retired ones too (a pack listed again is only kept longer; one
 * left out would be deleted under a ref that needs it), by compare-and-swap on the version read.
 */
async function livePacks(options: CompactionOptions, inBucket: Map<string, ObjectInfo[]>): Promise<string[]> {
  const { store, layout, repo } = options;
  const key = layout.infoPacks(repo);
  const current = await readInfoPacksObject(store, layout, repo);
  if (!current || current === "not-modified") return [];
  try {
    return parseInfoPacks(current.body, key);
  } catch (error) {
    if (!(error instanceof GitStoreError)) throw error;
  }
  const complete = [...inBucket]
    .filter(([, files]) => [".pack", ".idx"].every((ext) => files.some((file) => file.key.endsWith(ext))))
    .map(([name]) => name)
    .sort();
  try {
    await store.put(key, writeInfoPacks(complete), { ifMatch: current.etag });
  } catch (error) {
    if (!(error instanceof PreconditionFailed)) throw error;
    throw new GitStoreError("corrupt-pack", `${key} changed while compaction rewrote it (it named no pack on some line): run it again.`, {
      cause: error,
    });
  }
  options.log?.(`${key} had lines that name no pack: rewrote it, listing the ${complete.length} packs in the bucket`);
  return complete;
}

/**
 * Downloads `merged` into `work` and combines them into one pack, indexed from its own bytes; undefined when
 * it does not hold exactly the union of the packs' objects. The packs' objects are read from the bucket's
 * indexes (checked against their packs' names and counts), or with `reindex` (and for a pack whose idx is
 * missing) from an index made here.
 */
async function combine(
  options: CompactionOptions,
  merged: readonly string[],
  work: string,
  { reindex }: { reindex: boolean },
): Promise<PackFiles | undefined> {
  const { store, layout, repo } = options;
  const expected = new Set<string>();
  const packs = await mapLimit(merged, 4, async (name): Promise<PackFiles> => {
    const { index } = await downloadPack(store, layout, repo, name, work, { indexOptional: true });
    let pack: PackFiles = { name, packPath: join(work, `${name}.pack`), idxPath: join(work, `${name}.idx`), objectCount: 0 };
    if (index && !reindex) {
      await writeFile(pack.idxPath, index.body);
      pack.objectCount = index.parsed.objectCount;
    } else {
      // A pack whose idx went missing (or may lie) is indexed here; the combined pack replaces it with a good one.
      pack = await options.engine.indexPack(work, pack.packPath);
      if (!index) options.log?.(`${name} had no idx in the bucket; indexed it`);
    }
    const oids = index && !reindex ? index.parsed.oids : parsePackIndex(await readFile(pack.idxPath), `${name}.idx`).oids;
    for (const oid of oids) expected.add(oid);
    return pack;
  });
  const out = await mkdtemp(join(work, "combined-"));
  const built = await options.engine.combinePacks(packs, out);
  const combined = await options.engine.indexPack(out, built.packPath);
  const held = parsePackIndex(await readFile(combined.idxPath), `${combined.name}.idx`).oids;
  return held.length === expected.size && held.every((oid) => expected.has(oid)) ? combined : undefined;
}

/** The smallest of `live` whose .pack objects add up to at most `maxBytes`. */
function withinBytes(live: readonly string[], inBucket: Map<string, ObjectInfo[]>, maxBytes: number): string[] {
  const size = (name: string) => inBucket.get(name)?.find((info) => info.key.endsWith(".pack"))?.size ?? 0;
  const chosen: string[] = [];
  let total = 0;
  for (const name of [...live].sort((a, b) => size(a) - size(b))) {
    if (total + size(name) > maxBytes) break;
    total += size(name);
    chosen.push(name);
  }
  return chosen.length === live.length ? [...live] : chosen;
}

/**
 * Every pack in the bucket, by name, with its .pack and .idx objects (either may be missing). Anything else
 * under objects/pack/ (a stray upload, a name of someone else's) is no pack: left alone, and no reason to
 * stop compacting the packs beside it.
 */
async function listPacks(store: ObjectStore, layout: BucketLayout, repo: string): Promise<Map<string, ObjectInfo[]>> {
  const packs = new Map<string, ObjectInfo[]>();
  for await (const info of store.list(layout.packsRoot(repo))) {
    let parsed;
    try {
      parsed = layout.parse(info.key);
    } catch (error) {
      if (error instanceof ProtocolError) continue;
      throw error;
    }
    if (parsed.kind !== "pack") continue;
    const name = parsed.file.replace(/\.(pack|idx)$/, "");
    packs.set(name, [...(packs.get(name) ?? []), info]);
  }
  return packs;
}
