import { mkdir, mkdtemp, readdir, rename, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { downloadPack, readLivePacks } from "./bucket-packs.ts";
import type { GitEngine } from "./engine.ts";
import { GitStoreError } from "./errors.ts";
import { mapLimit } from "../objectstore/index.ts";
import { parseSyncedRefName } from "../protocol/core.ts";
import type { BucketRefs } from "./bucket-refs.ts";
import { readRefsIndex, removeAbandonedNotes, type RefsIndex } from "./refs-index.ts";
import { treesPastBounds } from "./tree-bounds.ts";
import { indexPacks } from "./verify-packs.ts";
import { forgetPacks, rememberPackIndex } from "./pack-catalog.ts";
import { readSeenPacks, recordSeenPacks } from "./packs-seen.ts";
import { engineOf, type RepoContext } from "./repo-context.ts";
import { trackingRefName, trackingRefPrefixes } from "./tracking-refs.ts";

export interface ObjectsFetched {
  packsDownloaded: number;
  bytesDownloaded: number;
  /** Of the optional tips, those left out: incomplete in the bucket, or past the tree bounds (with why). */
  skipped: Map<string, GitStoreError>;
}

/**
 * Makes every object reachable from `tips` (and from the `optional` tips that are complete) present
 * locally: downloads the live packs not seen before into a quarantine directory, checks each (checksum =
 * name, index agrees, git's fsck rules), that the tips are complete and their trees within the bounds
 * (limits.ts), and only then moves the packs into the repository. A required tip that fails stops
 * everything: the quarantine is removed and the repository is exactly as it was. An optional tip that
 * fails (another agent's synced ref: dangling, or a tree bomb) is only reported in `skipped`.
 */
export async function fetchObjects(
  ctx: RepoContext,
  tips: readonly string[],
  optional: readonly string[] = [],
  /** Commits known to be here with all they need (what the tracking refs name): not asked of git again. */
  known: ReadonlySet<string> = new Set(),
): Promise<ObjectsFetched> {
  const wanted = [...new Set([...tips, ...optional])].filter((oid) => !known.has(oid));
  if (wanted.length === 0) return { packsDownloaded: 0, bytesDownloaded: 0, skipped: new Map() };
  const present = await engineOf(ctx).hasObjects(ctx.gitDir, wanted);
  if (wanted.every((oid) => present.has(oid))) return { packsDownloaded: 0, bytesDownloaded: 0, skipped: new Map() };
  try {
    return await fetchLivePacks(ctx, tips, optional);
  } catch (error) {
    // A pack listed a moment ago can be gone if compaction's grace period ended in between: the
    // list has a compacted pack by now, so read it again, once.
    if (!(error instanceof GitStoreError && error.code === "missing-pack")) throw error;
    ctx.log?.(error.message);
    return fetchLivePacks(ctx, tips, optional, true);
  }
}

async function fetchLivePacks(
  ctx: RepoContext,
  tips: readonly string[],
  optional: readonly string[],
  reread = false,
): Promise<ObjectsFetched> {
  const live = await readLivePacks(ctx, { reread });
  await forgetPacks(ctx.gitDir, { keep: live });
  const seen = await readSeenPacks(ctx.gitDir);
  const local = await localPackNames(ctx.gitDir, live);
  const fresh = live.filter((name) => !seen.has(name) && !local.has(name));
  const seenPacks = { seen, live };
  let result = await fetchPacks(ctx, fresh, tips, optional, seenPacks);
  if (result.missing.length > 0 || result.incomplete.length > 0) {
    // Packs seen before may have been pruned locally since: fetch every live pack we do not hold.
    const retry = live.filter((name) => !local.has(name) && !fresh.includes(name));
    if (retry.length > 0) result = await fetchPacks(ctx, [...fresh, ...retry], tips, optional, seenPacks);
  }
  if (result.missing.length > 0) {
    throw new MissingObjects(
      result.missing,
      `The bucket's refs point at objects no pack in ${ctx.layout.repoRoot(ctx.repo)} holds (${result.missing.join(", ")}). ` +
        "Nothing was changed locally. A push may still be under way (try again shortly), or a pack was lost: " +
        "push again from a machine that has these commits.",
    );
  }
  const skipped = new Map(result.pastBounds);
  for (const oid of result.incomplete) {
    skipped.set(
      oid,
      new GitStoreError(
        "missing-objects",
        `no pack in ${ctx.layout.repoRoot(ctx.repo)} holds ${oid} and all it needs (a dangling ref, or a push still under way)`,
      ),
    );
  }
  return { packsDownloaded: result.packsDownloaded, bytesDownloaded: result.bytesDownloaded, skipped };
}

/** The bucket's refs name objects no listed pack holds (`missing`, their ids). */
class MissingObjects extends GitStoreError {
  readonly missing: readonly string[];
  constructor(missing: readonly string[], message: string) {
    super("missing-objects", message);
    this.missing = missing;
  }
}

/**
 * A shared ref naming objects no pack holds may name commits no machine has (a damaged or forged ref): it is
 * replaced, as any ref is, by a forced push of the right history, which the error names so that it can be run.
 */
function withReplaceAdvice(ctx: RepoContext, error: MissingObjects, refs: readonly string[]): MissingObjects {
  const url = `cloudbridge::s3://${ctx.store.bucket}/${ctx.layout.prefix}${ctx.repo}`;
  return new MissingObjects(
    error.missing,
    `${error.message} If no machine has them (a damaged or forged ref), replace ${refs.join(" and ")} from a machine whose ` +
      `files are right, in its folder: \`git push --force ${url} ${refs.join(" ")}\`.`,
  );
}

async function fetchPacks(
  ctx: RepoContext,
  names: readonly string[],
  tips: readonly string[],
  optional: readonly string[],
  seenPacks: { seen: ReadonlySet<string>; live: readonly string[] },
) {
  const engine = engineOf(ctx);
  const objectsDir = join(ctx.gitDir, "objects");
  await Promise.all([removeAbandonedQuarantines(objectsDir), removeAbandonedNotes(ctx.gitDir)]);
  const quarantine = await mkdtemp(join(objectsDir, QUARANTINE_PREFIX));
  try {
    await mkdir(join(quarantine, "pack"));
    const sizes = await mapLimit(names, 4, async (name) => {
      const { bytes: size } = await downloadPack(ctx.store, ctx.layout, ctx.repo, name, join(quarantine, "pack"));
      ctx.log?.(`fetched ${name} (${size} bytes)`);
      return size;
    });
    await indexPacks(engine, ctx.gitDir, quarantine, names);
    const downloaded = { packsDownloaded: names.length, bytesDownloaded: sum(sizes) };
    const optionalOnly = optional.filter((oid) => !tips.includes(oid));
    // Usually every tip is complete: one connectivity check for all of them (the halving only when not),
    // beside the count of their trees (a tip found incomplete is left out of what that count says).
    const [allComplete, bounds] = await Promise.all([
      engine.missingObjects(ctx.gitDir, [...tips, ...optionalOnly], quarantine).then((missing) => missing.length === 0),
      treesPastBounds(ctx.gitDir, [...tips, ...optionalOnly], (oid) => `The commit ${oid}`, {
        GIT_ALTERNATE_OBJECT_DIRECTORIES: quarantine,
      }),
    ]);
    const incomplete = allComplete ? [] : await incompleteTips(engine, ctx.gitDir, optionalOnly, quarantine);
    const missing = allComplete ? [] : await engine.missingObjects(ctx.gitDir, tips, quarantine);
    if (missing.length > 0) return { missing, incomplete, pastBounds: new Map<string, GitStoreError>(), ...downloaded };
    const complete = [...tips, ...optionalOnly.filter((oid) => !incomplete.includes(oid))];
    const pastBounds = new Map([...bounds].filter(([oid]) => complete.includes(oid)));
    if (checkedWithin.size > CHECKED_MAX) checkedWithin.clear();
    for (const oid of complete) if (!pastBounds.has(oid)) checkedWithin.add(oid);
    const required = tips.find((oid) => pastBounds.has(oid));
    if (required) throw pastBounds.get(required)!;
    // Pack before index: git only looks at packs that have an index.
    for (const name of names) {
      for (const ext of [".pack", ".idx"]) await rename(join(quarantine, "pack", name + ext), join(objectsDir, "pack", name + ext));
    }
    await recordSeenPacks(ctx.gitDir, names, seenPacks);
    for (const name of names) {
      const at = join(objectsDir, "pack", name);
      await rememberPackIndex(ctx.gitDir, { name, idxPath: `${at}.idx`, packPath: `${at}.pack` });
    }
    return { missing, incomplete, pastBounds, ...downloaded };
  } finally {
    await rm(quarantine, { recursive: true, force: true });
  }
}

/** Which of `tips` are not complete (themselves or something they need missing): halving, so one bad tip among thousands costs a few checks. */
async function incompleteTips(engine: GitEngine, gitDir: string, tips: readonly string[], quarantine: string): Promise<string[]> {
  if (tips.length === 0 || (await engine.missingObjects(gitDir, tips, quarantine)).length === 0) return [];
  if (tips.length === 1) return [...tips];
  const half = Math.ceil(tips.length / 2);
  return [
    ...(await incompleteTips(engine, gitDir, tips.slice(0, half), quarantine)),
    ...(await incompleteTips(engine, gitDir, tips.slice(half), quarantine)),
  ];
}

export interface FetchResult extends ObjectsFetched {
  refs: BucketRefs;
  /** Local tracking refs that moved (oid null: deleted). */
  updated: { ref: string; oid: string | null }[];
}

/**
 * `git fetch` from the bucket: every shared ref and every agent's synced refs, objects first, then the
 * local tracking refs (`refs/remotes/<remote>/…`, `refs/remotes/<remote>-synced/<agent>/…`) in one
 * transaction. A `required` shared ref (default: every shared ref) that cannot be used — its body is not
 * an object id, its objects are missing, its tree is past the bounds — stops the fetch before anything
 * changes. Any other ref that cannot be used (another agent's synced ref, a branch no machine checks
 * out) is reported in `refs.corrupt` (and logged) and skipped: its tracking ref is left as it was, so one
 * agent's trouble does not stop the others.
 */
export async function fetchRefs(
  ctx: RepoContext & {
    remote?: string;
    required?: readonly string[];
    /** The refs index read already (`readRefsIndex`, started earlier beside other work): used instead of reading it here. */
    index?: Promise<RefsIndex>;
  },
): Promise<FetchResult> {
  const remote = ctx.remote ?? "cloud";
  // The tracking refs as they are, read beside the requests (only fetches and pushes of this folder move them).
  const currentRefs = engineOf(ctx).readRefs(ctx.gitDir, trackingRefPrefixes(remote));
  currentRefs.catch(() => {}); // awaited (and rethrown) below
  // One GET of the refs index, a 304 when nothing moved since this machine last read it (refs-index.ts).
  const { refs } = await (ctx.index ?? readRefsIndex(ctx));
  const isRequired = (ref: string) => parseSyncedRefName(ref) === undefined && (ctx.required?.includes(ref) ?? true);
  const corrupt = [...refs.corrupt].find(([ref]) => isRequired(ref));
  if (corrupt) throw corrupt[1];
  const required = [...refs.shared.values()].filter((entry) => isRequired(entry.ref));
  const others = [...refs.shared.values(), ...refs.synced.values()].filter((entry) => !isRequired(entry.ref));
  // What a tracking ref names came through a fetch's checks (or was pushed from here): complete, here.
  const current = await currentRefs;
  const fetched = await fetchObjects(
    ctx,
    [...new Set(required.map((entry) => entry.oid))],
    others.map((entry) => entry.oid),
    new Set(current.values()),
  ).catch((error: unknown) => {
    if (!(error instanceof MissingObjects)) throw error;
    const refs = required.filter((entry) => error.missing.includes(entry.oid)).map((entry) => entry.ref);
    throw refs.length > 0 ? withReplaceAdvice(ctx, error, refs) : error;
  });
  const skip = (ref: string, why: GitStoreError) => {
    refs.shared.delete(ref);
    refs.synced.delete(ref);
    refs.corrupt.set(ref, new GitStoreError(why.code, `The ref ${ctx.layout.repoRoot(ctx.repo)}${ref} was skipped: ${why.message}`));
  };
  for (const entry of others) {
    const why = fetched.skipped.get(entry.oid);
    if (why) skip(entry.ref, why);
  }
  const trackingOf = (ref: string) => {
    const synced = parseSyncedRefName(ref);
    return synced ? trackingRefName(remote, synced.ref, synced.agent) : trackingRefName(remote, ref);
  };
  const keep = new Set<string>();
  for (const [ref, error] of refs.corrupt) {
    keep.add(trackingOf(ref));
    ctx.log?.(error.message);
  }
  for (const error of refs.unreadable) ctx.log?.(error.message);
  const wanted = new Map<string, string>();
  for (const { ref, oid } of refs.shared.values()) wanted.set(trackingRefName(remote, ref), oid);
  for (const { agent, syncedRef, oid } of refs.synced.values()) wanted.set(trackingRefName(remote, syncedRef, agent), oid);
  const updated: { ref: string; oid: string | null }[] = [];
  for (const [ref, oid] of wanted) if (current.get(ref) !== oid) updated.push({ ref, oid });
  // Commits already here (fetched earlier inside another's history) are checked too before a ref names them.
  // (Not again those this fetch just checked in its quarantine.)
  const moved = [...new Set(updated.map((u) => u.oid).filter((oid): oid is string => oid !== null && !checkedWithin.has(oid)))];
  const past = await treesPastBounds(ctx.gitDir, moved, (oid) => `The commit ${oid}`);
  for (const entry of required) {
    const why = past.get(entry.oid);
    if (why) throw new GitStoreError(why.code, `${ctx.layout.repoRoot(ctx.repo)}${entry.ref}: ${why.message}`);
  }
  for (const entry of others) {
    const why = past.get(entry.oid);
    if (!why || refs.corrupt.has(entry.ref)) continue;
    skip(entry.ref, why);
    ctx.log?.(refs.corrupt.get(entry.ref)!.message);
  }
  const usable = updated.filter((u) => u.oid === null || !past.has(u.oid));
  for (const ref of current.keys()) if (!wanted.has(ref) && !keep.has(ref)) usable.push({ ref, oid: null });
  await engineOf(ctx).updateRefs(ctx.gitDir, usable);
  return { ...fetched, refs, updated: usable };
}

/** Commits whose trees a fetch found within the bounds (this process; bounded: cleared when full). */
const checkedWithin = new Set<string>();
const CHECKED_MAX = 10_000;

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

async function localPackNames(gitDir: string, names: readonly string[]): Promise<Set<string>> {
  const found = await Promise.all(
    names.map(async (name) => ((await stat(join(gitDir, "objects", "pack", `${name}.idx`)).catch(() => undefined)) ? name : undefined)),
  );
  return new Set(found.filter((name): name is string => name !== undefined));
}

function sum(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0);
}
