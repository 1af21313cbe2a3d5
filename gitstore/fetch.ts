import { appendFile, mkdir, mkdtemp, readdir, readFile, rename, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { downloadPack, readInfoPacks } from "./bucket-packs.ts";
import { GitStoreError } from "./errors.ts";
import { mapLimit } from "../objectstore/index.ts";
import { parseSyncedRefName } from "../protocol/index.ts";
import { bucketTips, corruptSharedRef, readBucketRefs, type BucketRefs } from "./bucket-refs.ts";
import { engineOf, type RepoContext } from "./repo-context.ts";
import { trackingRefName, trackingRefPrefixes } from "./tracking-refs.ts";

export interface ObjectsFetched {
  packsDownloaded: number;
  bytesDownloaded: number;
}

/**
 * Makes every object reachable from `tips` present locally: downloads the live packs not seen before into
 * a quarantine directory, checks each (checksum = name, index agrees, git's fsck rules) and that the tips
 * are complete, and only then moves the packs into the repository. On any failure the quarantine is
 * removed and the repository is exactly as it was.
 */
export async function fetchObjects(ctx: RepoContext, tips: readonly string[]): Promise<ObjectsFetched> {
  const present = await engineOf(ctx).hasObjects(ctx.gitDir, tips);
  if (tips.every((oid) => present.has(oid))) return { packsDownloaded: 0, bytesDownloaded: 0 };
  try {
    return await fetchLivePacks(ctx, tips);
  } catch (error) {
    // A pack listed a moment ago can be gone if compaction's grace period ended in between: the
    // list has a compacted pack by now, so read it again, once.
    if (!(error instanceof GitStoreError && error.code === "missing-pack")) throw error;
    ctx.log?.(error.message);
    return fetchLivePacks(ctx, tips);
  }
}

async function fetchLivePacks(ctx: RepoContext, tips: readonly string[]): Promise<ObjectsFetched> {
  const live = await readInfoPacks(ctx.store, ctx.layout, ctx.repo);
  const seen = await readSeenPacks(ctx.gitDir);
  const local = await localPackNames(ctx.gitDir, live);
  const fresh = live.filter((name) => !seen.has(name) && !local.has(name));
  let result = await fetchPacks(ctx, fresh, tips);
  if (result.missing.length > 0) {
    // Packs seen before may have been pruned locally since: fetch every live pack we do not hold.
    const retry = live.filter((name) => !local.has(name) && !fresh.includes(name));
    if (retry.length > 0) result = await fetchPacks(ctx, [...fresh, ...retry], tips);
  }
  if (result.missing.length > 0) {
    throw new GitStoreError(
      "missing-objects",
      `The bucket's refs point at objects no pack in ${ctx.layout.repoRoot(ctx.repo)} holds (${result.missing.join(", ")}). ` +
        "Nothing was changed locally. A push may still be under way (try again shortly), or a pack was lost: " +
        "push again from a machine that has these commits.",
    );
  }
  return result;
}

async function fetchPacks(ctx: RepoContext, names: readonly string[], tips: readonly string[]) {
  const engine = engineOf(ctx);
  const objectsDir = join(ctx.gitDir, "objects");
  await removeAbandonedQuarantines(objectsDir);
  const quarantine = await mkdtemp(join(objectsDir, QUARANTINE_PREFIX));
  try {
    await mkdir(join(quarantine, "pack"));
    const sizes = await mapLimit(names, 4, async (name) => {
      const { bytes: size } = await downloadPack(ctx.store, ctx.layout, ctx.repo, name, join(quarantine, "pack"));
      ctx.log?.(`fetched ${name} (${size} bytes)`);
      return size;
    });
    await mapLimit(names, 2, async (name) => {
      const indexed = await engine.indexPack(ctx.gitDir, join(quarantine, "pack", `${name}.pack`));
      if (indexed.name !== name) throw new GitStoreError("corrupt-pack", `The pack ${name} is named after another checksum.`);
    });
    const missing = await engine.missingObjects(ctx.gitDir, tips, quarantine);
    if (missing.length > 0) return { missing, packsDownloaded: names.length, bytesDownloaded: sum(sizes) };
    // Pack before index: git only looks at packs that have an index.
    for (const name of names) {
      for (const ext of [".pack", ".idx"]) await rename(join(quarantine, "pack", name + ext), join(objectsDir, "pack", name + ext));
    }
    await recordSeenPacks(ctx.gitDir, names);
    return { missing, packsDownloaded: names.length, bytesDownloaded: sum(sizes) };
  } finally {
    await rm(quarantine, { recursive: true, force: true });
  }
}

export interface FetchResult extends ObjectsFetched {
  refs: BucketRefs;
  /** Local tracking refs that moved (oid null: deleted). */
  updated: { ref: string; oid: string | null }[];
}

/**
 * `git fetch` from the bucket: every shared ref and every agent's synced refs, objects first, then the
 * local tracking refs (`refs/remotes/<remote>/…`, `refs/remotes/<remote>-synced/<agent>/…`) in one
 * transaction. A shared ref from the bucket that is not an object id stops the fetch before anything
 * changes; a damaged synced ref of some agent is reported in `refs.corrupt` (and logged), and that
 * agent's tracking ref is left as it was.
 */
export async function fetchRefs(ctx: RepoContext & { remote?: string }): Promise<FetchResult> {
  const remote = ctx.remote ?? "cloud";
  const refs = await readBucketRefs(ctx.store, ctx.layout, ctx.repo);
  const corrupt = corruptSharedRef(refs);
  if (corrupt) throw corrupt;
  const keep = new Set<string>();
  for (const [ref, error] of refs.corrupt) {
    const synced = parseSyncedRefName(ref)!;
    keep.add(trackingRefName(remote, synced.ref, synced.agent));
    ctx.log?.(error.message);
  }
  const fetched = await fetchObjects(ctx, bucketTips(refs));
  const wanted = new Map<string, string>();
  for (const { ref, oid } of refs.shared.values()) wanted.set(trackingRefName(remote, ref), oid);
  for (const { agent, syncedRef, oid } of refs.synced.values()) wanted.set(trackingRefName(remote, syncedRef, agent), oid);
  const current = await engineOf(ctx).readRefs(ctx.gitDir, trackingRefPrefixes(remote));
  const updated: { ref: string; oid: string | null }[] = [];
  for (const [ref, oid] of wanted) if (current.get(ref) !== oid) updated.push({ ref, oid });
  for (const ref of current.keys()) if (!wanted.has(ref) && !keep.has(ref)) updated.push({ ref, oid: null });
  await engineOf(ctx).updateRefs(ctx.gitDir, updated);
  return { ...fetched, refs, updated };
}

const QUARANTINE_PREFIX = "tmp_objdir-cloudbridge-";

/** Quarantines left by a fetch that was killed: a day old, so that no fetch still downloading is touched. */
async function removeAbandonedQuarantines(objectsDir: string): Promise<void> {
  const dayAgo = Date.now() - 24 * 60 * 60 * 1000;
  for (const name of await readdir(objectsDir)) {
    if (!name.startsWith(QUARANTINE_PREFIX)) continue;
    const info = await stat(join(objectsDir, name)).catch(() => undefined);
    if (info && info.mtimeMs < dayAgo) await rm(join(objectsDir, name), { recursive: true, force: true });
  }
}

const SEEN = ["cloudbridge", "packs-seen"];

async function readSeenPacks(gitDir: string): Promise<Set<string>> {
  const text = await readFile(join(gitDir, ...SEEN), "utf8").catch(() => "");
  return new Set(text.split("\n").filter(Boolean));
}

async function recordSeenPacks(gitDir: string, names: readonly string[]): Promise<void> {
  if (names.length === 0) return;
  await mkdir(join(gitDir, SEEN[0]!), { recursive: true });
  await appendFile(join(gitDir, ...SEEN), names.map((name) => `${name}\n`).join(""));
}

async function localPackNames(gitDir: string, names: readonly string[]): Promise<Set<string>> {
  const found = await Promise.all(
    names.map(async (name) => ((await stat(join(gitDir, "objects", "pack", `${name}.idx`)).catch(() => undefined)) ? name : undefined)),
  );
  return new Set(found.filter((name): name is string => name !== undefined));
}

function sum(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0);
}
