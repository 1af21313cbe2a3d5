import { mkdtemp, rm } from "node:fs/promises";
import { join } from "node:path";
import { ObjectMissing, ObjectTooLarge, PreconditionFailed, type StoredObject } from "../objectstore/index.ts";
import { syncedRefName, assertAgentId, assertRefName } from "../protocol/index.ts";
import { editInfoPacks, readInfoPacksObject, uploadPack } from "./bucket-packs.ts";
import { jitter, MAX_ATTEMPTS } from "./conditional-update.ts";
import { GitStoreError } from "./errors.ts";
import { MAX_REF_FILE_BYTES } from "./limits.ts";
import { treesPastBounds } from "./tree-bounds.ts";
import { isObjectId, parseRefFile, writeRefFile } from "./ref-file.ts";
import { bucketTips, knownRefs, readBucketRefs, type BucketRef } from "./bucket-refs.ts";
import { fetchObjects } from "./fetch.ts";
import { engineOf, type RepoContext } from "./repo-context.ts";
import { snapshotRefs } from "./ref-snapshot.ts";
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
}

export interface PushOutcome {
  results: PushResult[];
  packsUploaded: number;
  objectsUploaded: number;
}

/**
 * Publishes local commits to the bucket in the order that keeps every reader safe :
 * pack → idx → objects/info/packs → the agent's synced refs → compare-and-swap of each shared ref →
 * info/refs and HEAD. Every step is idempotent, so a push interrupted anywhere is completed by the next.
 */
export async function push(options: PushOptions): Promise<PushOutcome> {
  assertAgentId(options.agent);
  for (const update of options.updates) {
    assertRefName(update.ref);
    if (update.oid !== null && !isObjectId(update.oid))
      throw new GitStoreError("invalid-object-id", `push: ${JSON.stringify(update.oid)} is not a commit id`);
  }
  // objects/info/packs is read alongside the refs, to save a round trip when the pack is listed.
  const infoPacks = readInfoPacksObject(options.store, options.layout, options.repo);
  infoPacks.catch(() => {}); // a failed early read is retried where it is used
  // Refs whose version the last fetch saw are not read again (a GET per agent otherwise).
  const bucket = await readBucketRefs(options.store, options.layout, options.repo, await snapshotRefs(options));
  const outcome: PushOutcome = { results: [], packsUploaded: 0, objectsUploaded: 0 };
  // Versions of refs we read or wrote: info/refs is rebuilt without re-reading them.
  const known = knownRefs(bucket);
  const tips = options.updates.flatMap((update) => (update.oid ? [update.oid] : []));
  const exclude = bucketTips(bucket);
  // Whether each update is a fast-forward of the ref as read, worked out while the pack is made and sent.
  const engine = engineOf(options);
  const fastForwards = new Map(
    options.updates.map((update) => {
      const current = bucket.shared.get(update.ref);
      return [update.ref, current && update.oid ? engine.isAncestor(options.gitDir, current.oid, update.oid) : undefined] as const;
    }),
  );
  for (const check of fastForwards.values()) check?.catch(() => {}); // awaited (and rethrown) in compareAndSwap
  await sendObjects(options, tips, exclude, outcome, infoPacks);

  for (const update of options.updates) {
    const synced = syncedRefName(options.agent, update.ref);
    const key = options.layout.ref(options.repo, synced);
    if (update.oid) known.set(synced, { oid: update.oid, etag: (await options.store.put(key, writeRefFile(update.oid))).etag });
    else await options.store.delete(key);
  }
  for (const update of options.updates) {
    const first = { current: bucket.shared.get(update.ref), fastForward: fastForwards.get(update.ref) };
    outcome.results.push(await compareAndSwap(options, update, first, [...exclude, ...tips], outcome, known));
  }
  await publishServerInfo(
    options,
    outcome.results.some((result) => result.status === "created"),
    known,
  );
  if (options.remote) {
    const landed = outcome.results.filter((result) => result.status !== "rejected");
    await engine.updateRefs(
      options.gitDir,
      landed.map((result) => ({ ref: trackingRefName(options.remote!, result.ref), oid: result.oid })),
    );
  }
  return outcome;
}

/** Uploads one pack of what the bucket lacks (nothing when it lacks nothing), then lists it. */
async function sendObjects(
  ctx: RepoContext,
  tips: readonly string[],
  exclude: readonly string[],
  outcome: PushOutcome,
  infoPacks?: Promise<StoredObject | undefined | "not-modified">,
) {
  if (tips.length === 0) return;
  // Beside the repository, never in the system temp folder: git writes the pack in objects/pack and renames
  // it into `scratch`, which fails across file systems (/tmp is a tmpfs on many distributions).
  const scratch = await mkdtemp(join(ctx.gitDir, "objects", "tmp_objdir-cloudbridge-push-"));
  try {
    const pack = await engineOf(ctx).packObjects(ctx.gitDir, { tips, exclude }, scratch);
    if (!pack) return;
    ctx.log?.(`uploading ${pack.name} (${pack.objectCount} objects)`);
    await uploadPack(ctx.store, ctx.layout, ctx.repo, pack);
    await editInfoPacks(ctx.store, ctx.layout, ctx.repo, { add: [pack.name] }, infoPacks);
    outcome.packsUploaded += 1;
    outcome.objectsUploaded += pack.objectCount;
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

async function compareAndSwap(
  options: PushOptions,
  update: RefUpdate,
  first: { current: BucketRef | undefined; fastForward: Promise<boolean> | undefined },
  inBucket: string[],
  outcome: PushOutcome,
  known: Map<string, { oid: string; etag: string }>,
): Promise<PushResult> {
  const { store, layout, repo, gitDir } = options;
  const key = layout.ref(repo, update.ref);
  const policy = update.onConflict ?? "reject";
  let current = first.current;
  let ours = update.oid;
  let merged = false;
  const maxAttempts = options.maxAttempts ?? MAX_ATTEMPTS;
  for (let attempt = 0; attempt < maxAttempts; attempt++) {
    if ((current?.oid ?? null) === ours) return { ref: update.ref, status: "up-to-date", oid: ours };
    let status: PushStatus;
    const write = async (oid: string, condition: { ifMatch: string } | { ifNoneMatch: "*" }) => {
      known.set(update.ref, { oid, etag: (await store.put(key, writeRefFile(oid), condition)).etag });
    };
    try {
      if (ours === null) {
        await store.delete(key, { ifMatch: current!.etag });
        status = "deleted";
      } else if (!current) {
        await write(ours, { ifNoneMatch: "*" });
        status = merged ? "merged" : "created";
      } else if (
        current.oid !== DAMAGED &&
        (await (current === first.current && ours === update.oid && first.fastForward
          ? first.fastForward
          : engineOf(options).isAncestor(gitDir, current.oid, ours)))
      ) {
        await write(ours, { ifMatch: current.etag });
        status = merged ? "merged" : "updated";
      } else if (policy === "reject") {
        const known = (await engineOf(options).hasObjects(gitDir, [current.oid])).has(current.oid);
        return { ref: update.ref, status: "rejected", oid: current.oid, reason: known ? "non-fast-forward" : "fetch first" };
      } else if (policy === "force") {
        await write(ours, { ifMatch: current.etag });
        status = "forced";
      } else {
        ours = await mergeWith(options, policy, ours, current.oid, update.ref, inBucket, outcome);
        merged = true;
        continue; // the merge contains theirs: the next round is a fast-forward
      }
      return { ref: update.ref, status, oid: ours };
    } catch (error) {
      if (!(error instanceof PreconditionFailed || error instanceof ObjectMissing)) throw error;
      current = await readSharedRef(store, key, update.ref, policy);
      options.log?.(`${update.ref} moved under us; attempt ${attempt + 2}`);
      await jitter(attempt);
    }
  }
  throw new GitStoreError(
    "too-many-conflicts",
    `${update.ref} kept moving under us (${maxAttempts} attempts). Your commits are safe in ` +
      `refs/synced/${options.agent}/; push again.`,
  );
}

/** The shared ref as it is now (read with its bound: a huge body is damaged, as one that is not an id). */
async function readSharedRef(store: PushOptions["store"], key: string, ref: string, policy: OnConflict): Promise<BucketRef | undefined> {
  try {
    const fresh = await store.get(key, { maxBytes: MAX_REF_FILE_BYTES });
    return fresh && fresh !== "not-modified" ? { ref, oid: readDamaged(fresh.body, key, policy), etag: fresh.etag } : undefined;
  } catch (error) {
    if (!(error instanceof ObjectTooLarge)) throw error;
    const info = await store.head(key);
    return info ? { ref, oid: readDamaged(Buffer.from(`${error.size} bytes`), key, policy), etag: info.etag } : undefined;
  }
}

/** Stands for a shared ref whose body is not an object id: only a forced push replaces it. */
const DAMAGED = "damaged";

function readDamaged(body: Buffer, key: string, policy: OnConflict): string {
  try {
    return parseRefFile(body, key);
  } catch (error) {
    if (policy === "force" && error instanceof GitStoreError) return DAMAGED;
    throw error;
  }
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
  await sendObjects(options, [result], inBucket, outcome);
  inBucket.push(result);
  await options.store.put(options.layout.syncedRef(options.repo, options.agent, ref), writeRefFile(result));
  return result;
}
