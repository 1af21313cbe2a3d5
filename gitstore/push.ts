import { mkdtempSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { ObjectMissing, PreconditionFailed } from "../objectstore/index.ts";
import { syncedRefName, assertAgentId, assertRefName } from "../protocol/core.ts";
import { addToPackList, rememberedLivePacks, uploadPack } from "./bucket-packs.ts";
import type { PackBegun, PackFiles } from "./engine.ts";
import { forgetPacks, knownPacks, packObjectIds, rememberPackIndex } from "./pack-catalog.ts";
import { parsePackIndex } from "./pack-format.ts";
import { packsToFold } from "./pack-geometry.ts";
import { readSeenPacks, recordSeenPacks } from "./packs-seen.ts";
import { jitter, MAX_ATTEMPTS, monotonicMs } from "./conditional-update.ts";
import { GitStoreError } from "./errors.ts";
import { treesPastBounds } from "./tree-bounds.ts";
import { isObjectId } from "./ref-file.ts";
import { bucketTips } from "./bucket-refs.ts";
import { fetchObjects } from "./fetch.ts";
import { engineOf, type RepoContext } from "./repo-context.ts";
import { cachedRefsIndex, indexEntries, putRefsIndex, readRefsIndex, type RefsIndex } from "./refs-index.ts";
import { publishServerInfo } from "./server-info.ts";
import { trackingRefName } from "./tracking-refs.ts";

/**
 * Called when the shared ref moved to `theirs` since we read it and `ours` does not contain it. Both
 * commits are present locally when it is called. It returns a commit that contains both (usually a new
 * merge commit it created in the local repository); push uploads it and retries the compare-and-swap.
 */
export type MergeCallback = (ours: string, theirs: string, ref: string) => Promise<string>;

/** What to do when the shared ref is not an ancestor of what we push: git's rule, `--force`, or merge. */
export type OnConflict = "reject" | "force" | MergeCallback;

export interface RefUpdate {
  /** The shared ref in the bucket, e.g. `refs/heads/main`. */
  ref: string;
  /** The commit to publish; null deletes the ref. */
  oid: string | null;
  onConflict?: OnConflict;
  /** A commit `oid` is known to contain (made on top of it, or merged with it): the bucket's ref there is a fast-forward, not asked of git. */
  contains?: string;
}

export type PushStatus = "created" | "updated" | "forced" | "merged" | "deleted" | "up-to-date" | "rejected";

export interface PushResult {
  ref: string;
  status: PushStatus;
  /** What the shared ref points at now, as far as this push knows (after a merge: the merge). */
  oid: string | null;
  /** For "rejected": git's reason, "non-fast-forward" or "fetch first" (their commit is not local). */
  reason?: "non-fast-forward" | "fetch first";
}

export interface PushOptions extends RepoContext {
  /** The pushing agent's id (its git-annex UUID): its synced refs are written first. */
  agent: string;
  updates: readonly RefUpdate[];
  /** Local remote name whose tracking refs follow what landed (e.g. "cloud"); none when undefined. */
  remote?: string;
  maxAttempts?: number;
  /**
   * Whether the push folds the bucket's small packs it knows into its own (default true), so the packs
   * listed stay about log₂ of the objects instead of one per push (pack-geometry.ts).
   */
  foldPacks?: boolean;
  /**
   * Takes the push's work still going once the refs index holds the push (this machine's notes of the index
   * and the pack list, the scratch folder, the catalog; the bucket's packed-refs and HEAD, for copies on disk,
   * whose failure is a GitStoreError "server-info-failed") instead of awaiting it: the remote helper answers
   * git first and awaits it before it exits. Without it, push returns once that work is done.
   */
  localAfter?: (pending: Promise<void>) => void;
  /** The pack begun before the push was known (beginPackAhead), taken by the push's first pack. */
  packAhead?: PackAhead;
}

/**
 * A push's pack begun before its refs are known: the remote helper begins it when `list for-push` says a
 * push follows, and git decides what to push (and the bucket's refs are read) while the scratch folder is
 * made and git's pack-objects starts (GitEngine.beginPack), ~3–5 ms of every push. The push's first pack
 * takes it (`take`, once); `drop`, when the conversation ends, ends what no push gave a range to and
 * removes the scratch folder no push took (a push's own is removed by the push).
 */
export interface PackAhead {
  take(): { scratch: string; begun?: PackBegun } | undefined;
  drop(): Promise<void>;
}

export function beginPackAhead(ctx: Pick<RepoContext, "gitDir" | "engine">): PackAhead {
  let ahead: { scratch: string; begun?: PackBegun } | undefined;
  try {
    // Made at once, not through the thread pool (where it waits behind the reads begun before it): git's
    // `push` line follows the answer to `list for-push` within a millisecond or two.
    const scratch = mkdtempSync(scratchPrefix(ctx.gitDir));
    ahead = { scratch, begun: engineOf(ctx).beginPack?.(ctx.gitDir, scratch) };
  } catch {
    // the push makes its own
  }
  let taken = false;
  return {
    take: () => {
      if (taken) return undefined;
      taken = true;
      return ahead;
    },
    drop: async () => {
      await ahead?.begun?.cancel();
      if (ahead && !taken) await rm(ahead.scratch, { recursive: true, force: true });
    },
  };
}

/**
 * A push's scratch folder, beside the repository, never in the system temp folder: git writes the pack in
 * objects/pack and renames it into the folder, which fails across file systems (/tmp is a tmpfs on many
 * distributions).
 */
function scratchFolder(gitDir: string): Promise<string> {
  return mkdtemp(scratchPrefix(gitDir));
}

const scratchPrefix = (gitDir: string) => join(gitDir, "objects", "tmp_objdir-cloudbridge-push-");

export interface PushOutcome {
  results: PushResult[];
  packsUploaded: number;
  objectsUploaded: number;
}

/**
 * Publishes local commits to the bucket in the order that keeps every reader safe:
 * pack → idx → objects/info/packs → the refs index (this agent's synced refs and every shared ref, in one
 * compare-and-swap) → packed-refs and HEAD. Every step is idempotent, so a push interrupted anywhere is
 * completed by the next.
 */
export async function push(options: PushOptions): Promise<PushOutcome> {
  assertAgentId(options.agent);
  for (const update of options.updates) {
    assertRefName(update.ref);
    if (update.oid !== null && !isObjectId(update.oid))
      throw new GitStoreError("invalid-object-id", `push: ${JSON.stringify(update.oid)} is not a commit id`);
  }
  const engine = engineOf(options);
  // The index as this machine last saw it, written on top of without a read: a 412 says a ref moved.
  const cached = await cachedRefsIndex(options);
  let index = cached ?? (await readRefsIndex(options));
  const fastForwardsOf = (refs: RefsIndex) =>
    new Map(
      options.updates.map((update) => {
        const current = refs.refs.shared.get(update.ref);
        const check =
          current && update.oid
            ? current.oid === update.contains
              ? Promise.resolve(true)
              : engine.isAncestor(options.gitDir, current.oid, update.oid)
            : undefined;
        check?.catch(() => {}); // awaited (and rethrown) in commitRefs
        return [update.ref, current && check ? { oid: current.oid, check } : undefined] as const;
      }),
    );
  let fastForwards = fastForwardsOf(index);
  // A remembered shared ref our commit does not contain may be stale: then the index is read again before
  // anything is sent against it (or merged with it). Whether it does is found out while git makes the pack
  // against the remembered refs, which is what is sent when it does (nearly always).
  const rememberedHolds = cached
    ? Promise.all([...fastForwards.values()].map((entry) => entry?.check.catch(() => false) ?? true)).then((ok) => ok.every(Boolean))
    : undefined;
  const outcome: PushOutcome = { results: [], packsUploaded: 0, objectsUploaded: 0 };
  const tips = options.updates.flatMap((update) => (update.oid ? [update.oid] : []));
  let exclude = bucketTips(index.refs);
  let sent = await sendObjects(options, tips, exclude, outcome, rememberedHolds);
  if (sent === "stale") {
    index = await readRefsIndex(options);
    fastForwards = fastForwardsOf(index);
    exclude = bucketTips(index.refs);
    sent = await sendObjects(options, tips, exclude, outcome);
  }
  // The pack's local tidying (the scratch folder, the catalog of packs no longer listed) goes on while the
  // refs are written; it is over before the push returns, or handed to localAfter. (Sent again, it is never "stale".)
  const tidying = sent === "stale" ? undefined : sent?.done;
  let committed: Awaited<ReturnType<typeof commitRefs>>;
  let local: Promise<void> | undefined;
  try {
    committed = await commitRefs(
      options,
      { ...index, remembered: cached !== undefined && index === cached },
      fastForwards,
      [...exclude, ...tips],
      outcome,
    );
    outcome.results = committed.results;
    local = Promise.all([committed.remembered, tidying]).then(() => undefined);
    local.catch(() => {}); // awaited below, or by whoever took it (localAfter)
    // packed-refs goes up while the index written is remembered (and the pack's tidying goes on); all of it is
    // over before the push goes on, but what the caller takes (localAfter).
    const published = committed.written
      ? publishServerInfo(options, committed.written, {
          createHead: committed.createdRepository || committed.results.some((r) => r.status === "created"),
          sharedMoved: committed.createdRepository || committed.results.some((r) => r.status !== "up-to-date" && r.status !== "rejected"),
        })
      : undefined;
    published?.catch(() => {}); // awaited below, or by whoever took it
    if (options.localAfter) {
      // The index, written, holds the push (its commit point): packed-refs and HEAD, for copies of the
      // repository on disk, follow it whether or not the caller waits, and git has its answer without waiting
      // for them (its own refs are updated meanwhile). Their failure no longer makes a push that landed a failure.
      options.localAfter(local);
      if (published) {
        const publishing = published.catch((error: unknown) => {
          throw new GitStoreError(
            "server-info-failed",
            `the bucket's packed-refs and HEAD, which copies of the repository on disk read, were not written (the next push that moves a branch writes packed-refs again): ${error instanceof Error ? error.message : String(error)}`,
          );
        });
        publishing.catch(() => {}); // awaited by whoever took it
        options.localAfter(publishing);
      }
    } else for (const result of await Promise.allSettled([published, local])) if (result.status === "rejected") throw result.reason;
  } catch (error) {
    await (local ?? tidying)?.catch(() => {}); // the push's own failure is the one said
    throw error;
  }
  if (options.remote) {
    const landed = outcome.results.filter((result) => result.status !== "rejected");
    // This agent's synced refs as the index now holds them too: the next fetch then finds nothing moved
    // (no tracking ref to write, no tree to check) where this push is the last change.
    const synced = options.updates.flatMap(({ ref }) => {
      const oid = committed.written?.get(syncedRefName(options.agent, ref));
      return committed.written ? [{ ref: trackingRefName(options.remote!, ref, options.agent), oid: oid ?? null }] : [];
    });
    await engine.updateRefs(options.gitDir, [
      ...landed.map((result) => ({ ref: trackingRefName(options.remote!, result.ref), oid: result.oid })),
      ...synced,
    ]);
  }
  return outcome;
}

/** A pack sent: `done` is its local tidying (the scratch folder, the catalog), awaited before the push returns. */
interface Sent {
  done: Promise<void>;
}

/**
 * Uploads one pack of what the bucket lacks (nothing when it lacks nothing), then lists it. When the
 * bucket's small packs this machine knows fill a tier (pack-geometry.ts), the pack is made again with
 * their objects too and listed in their place. `excludeHolds`: whether `exclude` may be packed against,
 * found out while git packs; when it says no, nothing is sent and "stale" is returned.
 */
async function sendObjects(
  options: PushOptions,
  tips: readonly string[],
  exclude: readonly string[],
  outcome: PushOutcome,
  excludeHolds?: Promise<boolean>,
): Promise<Sent | "stale" | undefined> {
  if (tips.length === 0) return undefined;
  const ahead = options.packAhead?.take();
  const scratch = ahead?.scratch ?? (await scratchFolder(options.gitDir));
  let done: Promise<void> | undefined;
  let removed: Promise<void> | undefined;
  try {
    const range = { tips, exclude };
    // What the known packs hold is read while git packs (local files, side by side: a push waits for each step).
    const known = options.foldPacks === false ? undefined : knownLivePacks(options);
    known?.catch(() => {}); // awaited below
    const made = await (ahead?.begun ? ahead.begun.pack(range) : engineOf(options).packObjects(options.gitDir, range, scratch)).catch(
      async (error: unknown) => {
        if (excludeHolds && !(await excludeHolds)) return "stale" as const; // packed against refs that moved
        throw error;
      },
    );
    if (made === "stale" || (excludeHolds && !(await excludeHolds))) return "stale";
    let pack = made;
    if (!pack) return undefined;
    let folded = known ? packsToFold(await known, pack.objectCount) : [];
    if (folded.length > 0) ({ pack, folded } = await packFolding(options, range, folded, pack, scratch));
    options.log?.(`uploading ${pack.name} (${pack.objectCount} objects${folded.length > 0 ? `, ${folded.length} packs folded in` : ""})`);
    // Remembered while it goes up: a remembered pack the list does not name is never folded, and is forgotten below.
    const remembered = rememberPackIndex(options.gitDir, pack);
    remembered.catch(() => {}); // awaited below
    await uploadPack(options.store, options.layout, options.repo, pack);
    // Sent, and copied into the catalog: nothing reads the scratch folder any more, which goes while the
    // pack is listed and the refs written.
    removed = remembered.catch(() => {}).then(() => rm(scratch, { recursive: true, force: true }));
    removed.catch(() => {}); // awaited below
    const { remembered: listNoted } = await addToPackList(options, [pack.name], folded);
    outcome.packsUploaded += 1;
    outcome.objectsUploaded += pack.objectCount;
    // Listed: what is left is local (the list's note saved, the packs it no longer names forgotten), and
    // goes on while the refs are written.
    const listed = pack.name;
    const scratchRemoved = removed;
    done = (async () => {
      try {
        await remembered;
        await listNoted;
        const live = await rememberedLivePacks(options);
        await forgetPacks(options.gitDir, { keep: live ?? [listed] });
        // Its objects are here: a fetch after another machine's push does not download it back. (With no
        // list remembered, no name is dropped from the record.)
        const seen = await readSeenPacks(options.gitDir);
        await recordSeenPacks(options.gitDir, [listed], { seen, live: live ?? [...seen, listed] });
      } finally {
        await scratchRemoved;
      }
    })();
    done.catch(() => {}); // awaited by the push
    return { done };
  } finally {
    if (!done) await (removed ?? rm(scratch, { recursive: true, force: true }));
  }
}

/** The live packs (as this machine last saw the list) it knows the content of, which a push may fold in. */
async function knownLivePacks(ctx: RepoContext): Promise<Awaited<ReturnType<typeof knownPacks>>> {
  const live = await rememberedLivePacks(ctx);
  return live ? knownPacks(ctx.gitDir, live) : [];
}

/**
 * The range's pack made again with every object of the `folded` packs. A folded pack one of whose objects
 * is not in the repository (pruned by git since it was fetched) is left out, and forgotten so it is not
 * tried again; when none is left, the range's own pack is used.
 */
async function packFolding(
  ctx: RepoContext,
  range: { tips: readonly string[]; exclude: readonly string[] },
  folded: readonly string[],
  own: PackFiles,
  outDir: string,
): Promise<{ pack: PackFiles; folded: string[] }> {
  const engine = engineOf(ctx);
  const oidsOf = new Map(await Promise.all(folded.map(async (name) => [name, await packObjectIds(ctx.gitDir, name)] as const)));
  const present = await engine.hasObjects(ctx.gitDir, [...oidsOf.values()].flat());
  const lacking = folded.filter((name) => oidsOf.get(name)!.some((oid) => !present.has(oid)));
  if (lacking.length > 0) {
    ctx.log?.(`not folding ${lacking.join(", ")}: objects of theirs are not in this repository`);
    await forgetPacks(ctx.gitDir, { drop: lacking });
  }
  const kept = folded.filter((name) => !lacking.includes(name));
  if (kept.length === 0) return { pack: own, folded: [] };
  const include = kept.flatMap((name) => oidsOf.get(name)!);
  const pack = await engine.packObjects(ctx.gitDir, { ...range, include }, outDir);
  // The list will name this pack instead of the folded ones: it must hold every object they hold.
  const held = new Set(pack ? parsePackIndex(await readFile(pack.idxPath), `${pack.name}.idx`).oids : []);
  const lost = include.find((oid) => !held.has(oid));
  if (!pack || lost) {
    throw new GitStoreError("pack-failed", `The pack made to fold ${kept.join(", ")} into lacks ${lost} of theirs; nothing was uploaded.`);
  }
  return { pack, folded: kept };
}

/**
 * Moves every ref of the push in one compare-and-swap of the refs index: the agent's synced refs to what
 * it pushes (so its commits are recorded even when a shared ref refuses them), each shared ref by git's
 * rule, `force` or a merge. On 412 the index is read again and everything decided again, with jitter,
 * a bounded number of times. Returns the refs written (undefined when nothing needed writing), and
 * `remembered`: this machine's note of the index written, still being saved, for the push to await.
 */
async function commitRefs(
  options: PushOptions,
  /** `remembered`: the index as this machine last saw it, not read now. */
  index: RefsIndex & { remembered: boolean },
  fastForwards: Map<string, { oid: string; check: Promise<boolean> } | undefined>,
  inBucket: string[],
  outcome: PushOutcome,
): Promise<{ results: PushResult[]; written?: Map<string, string>; createdRepository: boolean; remembered?: Promise<void> }> {
  const engine = engineOf(options);
  const ours = new Map(options.updates.map((update) => [update.ref, update.oid]));
  const merged = new Set<string>();
  const maxAttempts = options.maxAttempts ?? MAX_ATTEMPTS;
  // When what is decided on was read: a write that loses waits in proportion to how long it held it.
  let readAt = monotonicMs();
  for (let attempt = 0; attempt < maxAttempts; attempt++) {
    const before = indexEntries(index.refs);
    const next = new Map(before);
    const results: PushResult[] = [];
    for (const update of options.updates) {
      const policy = update.onConflict ?? "reject";
      const synced = syncedRefName(options.agent, update.ref);
      const damaged = index.refs.corrupt.get(update.ref);
      if (damaged && policy !== "force") throw damaged;
      for (;;) {
        const mine = ours.get(update.ref)!;
        const current = damaged ? undefined : index.refs.shared.get(update.ref)?.oid;
        const status = (plain: PushStatus): PushStatus => (merged.has(update.ref) ? "merged" : plain);
        if (mine === null) next.delete(synced);
        else next.set(synced, mine);
        if (!damaged && (current ?? null) === mine) {
          results.push({ ref: update.ref, status: "up-to-date", oid: mine });
        } else if (mine === null) {
          next.delete(update.ref);
          results.push({ ref: update.ref, status: "deleted", oid: null });
        } else if (!damaged && current === undefined) {
          next.set(update.ref, mine);
          results.push({ ref: update.ref, status: status("created"), oid: mine });
        } else if (current !== undefined && (await isFastForward(options, fastForwards.get(update.ref), update.oid, current, mine))) {
          next.set(update.ref, mine);
          results.push({ ref: update.ref, status: status("updated"), oid: mine });
        } else if (policy === "reject") {
          const known = (await engine.hasObjects(options.gitDir, [current!])).has(current!);
          results.push({ ref: update.ref, status: "rejected", oid: current!, reason: known ? "non-fast-forward" : "fetch first" });
        } else if (policy === "force") {
          next.set(update.ref, mine);
          results.push({ ref: update.ref, status: "forced", oid: mine });
        } else {
          ours.set(update.ref, await mergeWith(options, policy, mine, current!, update.ref, inBucket, outcome));
          merged.add(update.ref);
          continue; // the merge contains theirs: decided again, a fast-forward
        }
        break;
      }
    }
    if (sameEntries(before, next) && index.etag !== undefined) {
      if (!index.remembered) return { results, createdRepository: false };
      // Nothing to write by what this machine remembers: whether that still holds, only a read says.
      readAt = monotonicMs();
      index = { ...(await readRefsIndex(options)), remembered: false };
      continue;
    }
    try {
      const { remembered } = await putRefsIndex(options, next, index.etag);
      return { results, written: next, createdRepository: index.etag === undefined, remembered };
    } catch (error) {
      if (!(error instanceof PreconditionFailed || error instanceof ObjectMissing)) throw error;
      options.log?.(`the refs moved under us; attempt ${attempt + 2}`);
      // Wait, then read: what is decided next is then as fresh as it can be (read before the wait, the
      // index would be a wait older when it is written on top of).
      await jitter(attempt, monotonicMs() - readAt);
      readAt = monotonicMs();
      index = { ...(await readRefsIndex(options)), remembered: false };
    }
  }
  throw new GitStoreError(
    "too-many-conflicts",
    `${options.layout.infoRefs(options.repo)} kept moving under us (${maxAttempts} attempts). Your commits are safe in ` +
      `the bucket's packs and in this repository; push again.`,
  );
}

/** Whether `mine` contains `current` (what was checked while the pack was made, when it is the same question). */
async function isFastForward(
  options: PushOptions,
  early: { oid: string; check: Promise<boolean> } | undefined,
  requested: string | null,
  current: string,
  mine: string,
): Promise<boolean> {
  if (early && early.oid === current && requested === mine) return early.check;
  return engineOf(options).isAncestor(options.gitDir, current, mine);
}

function sameEntries(a: ReadonlyMap<string, string>, b: ReadonlyMap<string, string>): boolean {
  return a.size === b.size && [...a].every(([ref, oid]) => b.get(ref) === oid);
}

async function mergeWith(
  options: PushOptions,
  merge: MergeCallback,
  ours: string,
  theirs: string,
  ref: string,
  inBucket: string[],
  outcome: PushOutcome,
): Promise<string> {
  await fetchObjects(options, [theirs]);
  const past = (await treesPastBounds(options.gitDir, [theirs], (oid) => `${ref} in the bucket (${oid})`)).get(theirs);
  if (past) throw past;
  const result = await merge(ours, theirs, ref);
  const engine = engineOf(options);
  if (
    !isObjectId(result) ||
    !(await engine.isAncestor(options.gitDir, theirs, result)) ||
    !(await engine.isAncestor(options.gitDir, ours, result))
  ) {
    throw new GitStoreError(
      "bad-merge",
      `The merge callback for ${ref} returned ${JSON.stringify(result)}, which does not contain both ${ours} and ${theirs}.`,
    );
  }
  inBucket.push(theirs);
  const sent = await sendObjects(options, [result], inBucket, outcome);
  if (sent !== "stale") await sent?.done;
  inBucket.push(result);
  return result;
}
