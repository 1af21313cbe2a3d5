import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { mkdir, readdir, rename, rm, stat, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { mapLimit, ObjectMissing, ObjectTooLarge, PreconditionFailed, type ObjectStore, type StoredObject } from "../objectstore/index.ts";
import { parseSyncedRefName, type BucketLayout } from "../protocol/core.ts";
import { readBucketRefs, type BucketRefs } from "./bucket-refs.ts";
import { jitter, MAX_ATTEMPTS, objectTooLarge } from "./conditional-update.ts";
import { GitStoreError } from "./errors.ts";
import { readRefsIndexBody, unreadableLine, writeInfoRefs } from "./info-refs.ts";
import { MAX_REF_FILE_BYTES, MAX_REFS_INDEX_BYTES } from "./limits.ts";
import { parseRefFile } from "./ref-file.ts";
import type { RepoContext } from "./repo-context.ts";
import { createRefsFolder, publishServerInfo } from "./server-info.ts";

/**
 * The refs index (format 3): every ref of a repository, shared and every agent's synced refs, in one
 * object, `info/refs` — git's own dumb-HTTP list, so plain git reads it as before. It is read with one GET
 * and written with one PUT conditional on the ETag read (If-Match; If-None-Match: * for the first), so a
 * push moves all its refs at once by compare-and-swap, as strong as one ref file each was.
 *
 * The index as last read or written is kept in `.git/cloudbridge/refs-index/<hash>.json` with its ETag, one
 * file per endpoint, bucket and repository (a git repository may have several cloudbridge:: remotes, and
 * two may name one bucket and repository at two endpoints: two buckets): a read asks for it conditionally
 * (304 when nothing moved), and a push writes on top of it without reading (If-Match on the ETag it has;
 * 412 means someone moved a ref, and only then is it read again) and sends only the objects it lacks. The
 * KEPT_NOTES most recently written are kept (pruneNotes): a remote whose note went reads its index whole.
 *
 * A repository of a format 1 or 2 bucket keeps each ref in a file under `refs/` (and info/refs rebuilt
 * from them after each push). The first reader that finds such files moves their refs into the index by
 * compare-and-swap, then deletes the files and creates the `refs/` folder object that marks the move (an
 * older cloudbridge refuses the repository from then on: that object is not in its layout); a file found
 * after that is a stray, and the index keeps its own value. Whether this was done is remembered locally,
 * so it costs one LIST per local repository.
 */
export interface RefsIndex {
  refs: BucketRefs;
  /** The index's ETag (the version a write must name), or undefined when the repository has none yet. */
  etag: string | undefined;
}

interface Cache {
  format: 1;
  /** The bucket and repository root it describes. */
  where: string;
  /**
   * The endpoint it was read at (null: S3's own). Absent in a file an earlier version wrote, which cannot
   * say which endpoint it described (legacyCacheFiles).
   */
  endpoint?: string | null;
  etag: string | null;
  body: string;
  /** Whether this repository's ref files (format 1 and 2) were looked for and moved into the index. */
  migrated: boolean;
  /** objects/info/packs as last read or written (bucket-packs.ts), to read conditionally and write on top of. */
  packs?: { etag: string; body: string };
}

/** The index as this machine last saw it (no request), or undefined when it has not read it yet. */
export async function cachedRefsIndex(ctx: RepoContext): Promise<RefsIndex | undefined> {
  const cache = await load(ctx);
  // A push sends only what this index does not name: never on the word of a file that may be another endpoint's.
  if (!cache?.migrated || !ownEndpoint(cache)) return undefined;
  return { refs: toBucketRefs(cache.body, ctx, cache.etag ?? ""), etag: cache.etag ?? undefined };
}

/**
 * The index as it is now: one GET, answered 304 when it did not change since this machine last saw it.
 * `ahead`: that GET begun earlier (readRefsIndexAhead), taken instead of a new one when it was begun on
 * this store with the ETag this read would name.
 */
export async function readRefsIndex(ctx: RepoContext, ahead?: Promise<IndexReadAhead>): Promise<RefsIndex> {
  const cache = await load(ctx);
  let current = await getIndex(ctx, cache, await ahead?.catch(() => undefined));
  if (!cache?.migrated) current = await migrateRefFiles(ctx, current);
  // Saved as this endpoint's own once read here, an earlier version's file too (the bucket just confirmed it).
  if (!cache || !cache.migrated || !ownEndpoint(cache) || cache.etag !== (current.etag ?? null)) {
    await note(ctx, (latest) => ({ ...keptOf(ctx, latest), etag: current.etag ?? null, body: current.body, migrated: true }), cache);
  }
  return { refs: toBucketRefs(current.body, ctx, current.etag ?? ""), etag: current.etag };
}

/**
 * The index's conditional GET, begun before the repository's own store is known: the remote helper begins
 * it on the bucket's store while the key ring's GET says whether the repository is encrypted (two round
 * trips side by side instead of one after the other). readRefsIndex takes its answer only when the
 * repository is clear (its store is this one); an encrypted repository's is dropped unread. Nothing is
 * written or remembered here: a read begun a moment early is as safe as one begun later, every write of the
 * index being conditional on the version read.
 */
export interface IndexReadAhead {
  store: ObjectStore;
  /** The ETag the GET named (If-None-Match), as remembered when it began. */
  known: string | undefined;
  answer: Promise<StoredObject | undefined | "not-modified">;
}

export async function readRefsIndexAhead(ctx: RepoContext): Promise<IndexReadAhead> {
  const known = knownEtag(await load(ctx));
  const answer = ctx.store.get(ctx.layout.infoRefs(ctx.repo), { maxBytes: MAX_REFS_INDEX_BYTES, ...(known ? { ifNoneMatch: known } : {}) });
  answer.catch(() => {}); // thrown by the read that takes it; dropped with an encrypted repository
  return { store: ctx.store, known, answer };
}

/**
 * Writes `refs` as the whole index, on condition that it is still at `etag` (undefined: that there is none).
 * Throws PreconditionFailed (or ObjectMissing) when someone else wrote it meanwhile. Returns the new ETag.
 */
export async function writeRefsIndex(ctx: RepoContext, refs: ReadonlyMap<string, string>, etag: string | undefined): Promise<string> {
  const { etag: written, remembered } = await putRefsIndex(ctx, refs, etag);
  await remembered;
  return written;
}

/**
 * writeRefsIndex returning as soon as the bucket has the index: `remembered` is this machine's note of it
 * (the ETag a next push writes on top of), still being written, for the caller to await before it is done.
 * A push's last request (packed-refs) goes on meanwhile.
 */
export async function putRefsIndex(
  ctx: RepoContext,
  refs: ReadonlyMap<string, string>,
  etag: string | undefined,
): Promise<{ etag: string; remembered: Promise<void> }> {
  const body = writeInfoRefs(refs);
  // What else the note holds (the pack list) is read while the index goes up.
  const cache = load(ctx);
  const written = await ctx.store.put(ctx.layout.infoRefs(ctx.repo), body, {
    ...(etag ? { ifMatch: etag } : { ifNoneMatch: "*" as const }),
    contentType: "text/plain; charset=utf-8",
  });
  const remembered = cache.then((read) =>
    note(ctx, (latest) => ({ ...keptOf(ctx, latest), etag: written.etag, body, migrated: true }), read),
  );
  remembered.catch(() => {}); // awaited by the caller
  return { etag: written.etag, remembered };
}

/** Every ref of `refs` (shared and synced) by full name, with its object id: the index's content. */
export function indexEntries(refs: BucketRefs): Map<string, string> {
  return new Map([...refs.shared.values(), ...refs.synced.values()].map((entry) => [entry.ref, entry.oid]));
}

/**
 * Where shared ref `ref` points in the bucket now, for a look without a local repository (`status`): the
 * index, or the ref's file in a repository not yet moved to an index. Undefined when there is no such ref.
 */
export async function readSharedRefNow(store: ObjectStore, layout: BucketLayout, repo: string, ref: string): Promise<string | undefined> {
  const key = layout.infoRefs(repo);
  const object = await store.get(key, { maxBytes: MAX_REFS_INDEX_BYTES }).catch((error: unknown) => {
    throw error instanceof ObjectTooLarge ? objectTooLarge(error) : error;
  });
  const index = object && object !== "not-modified" ? readRefsIndexBody(object.body, key) : undefined;
  const damaged = index?.corrupt.get(ref);
  if (damaged) throw damaged;
  const oid = index?.refs.get(ref);
  if (oid) return oid;
  const file = await store.get(layout.ref(repo, ref), { maxBytes: MAX_REF_FILE_BYTES });
  return file && file !== "not-modified" ? parseRefFile(file.body, layout.ref(repo, ref)) : undefined;
}

/** objects/info/packs as this machine last saw it, if it did (at this endpoint: the list decides which packs a push folds). */
export async function cachedPackList(ctx: RepoContext): Promise<{ etag: string; body: string } | undefined> {
  const cache = await load(ctx);
  return cache && ownEndpoint(cache) ? cache.packs : undefined;
}

/**
 * Remembers objects/info/packs as just read or written. Queued at once behind this process's other notes
 * of the repository (note): what is read or noted after this call sees it, though it may still be being
 * written (a push's index PUT does not wait for it).
 */
export function rememberPackList(ctx: RepoContext, packs: { etag: string; body: string }): Promise<void> {
  return note(ctx, (cache) =>
    cache && ownEndpoint(cache) && cache.packs?.etag === packs.etag ? undefined : { ...keptOf(ctx, cache), packs },
  );
}

/** The ETag a read of the index names (If-None-Match): the one remembered, once the ref files were moved. */
function knownEtag(cache: Cache | undefined): string | undefined {
  return cache?.migrated && cache.etag ? cache.etag : undefined;
}

async function getIndex(
  ctx: RepoContext,
  cache: Cache | undefined,
  ahead?: IndexReadAhead,
): Promise<{ etag: string | undefined; body: string }> {
  const key = ctx.layout.infoRefs(ctx.repo);
  const known = knownEtag(cache);
  const begun = ahead && ahead.store === ctx.store && ahead.known === known ? ahead.answer : undefined;
  const object = await (begun ?? ctx.store.get(key, { maxBytes: MAX_REFS_INDEX_BYTES, ...(known ? { ifNoneMatch: known } : {}) })).catch(
    (error: unknown) => {
      throw error instanceof ObjectTooLarge ? objectTooLarge(error) : error;
    },
  );
  if (object === "not-modified") return { etag: known, body: cache!.body };
  return object ? { etag: object.etag, body: object.body.toString() } : { etag: undefined, body: "" };
}

/** Moves the refs of a format 1 or 2 repository (one file each under `refs/`) into the index, then deletes the files. */
async function migrateRefFiles(
  ctx: RepoContext,
  current: { etag: string | undefined; body: string },
): Promise<{ etag: string | undefined; body: string }> {
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const files = await readBucketRefs(ctx.store, ctx.layout, ctx.repo);
    const moved = [...files.shared.values(), ...files.synced.values()];
    if (moved.length === 0) return current;
    const index = current.body
      ? readRefsIndexBody(current.body, ctx.layout.infoRefs(ctx.repo))
      : { refs: new Map(), corrupt: new Map(), unreadable: [] };
    // Before the move, info/refs was rebuilt from the files after each push, so a file is newer (a push
    // interrupted before info/refs). After it (the refs/ folder object is there) every writer moves the
    // index: a file is then a stray from an older cloudbridge still running, and the index wins.
    const filesWin = (await ctx.store.head(ctx.layout.refsFolder(ctx.repo))) === undefined;
    const merged = new Map(index.refs);
    for (const { ref, oid } of moved) if (filesWin || (!merged.has(ref) && !index.corrupt.has(ref))) merged.set(ref, oid);
    try {
      const etag = await writeRefsIndex(ctx, merged, current.etag);
      ctx.log?.(`moved ${moved.length} refs of ${ctx.layout.repoRoot(ctx.repo)} into its refs index`);
      // Only files whose version was read: one written since (an older cloudbridge) is left for the next reader.
      await mapLimit(moved, 8, (entry) =>
        ctx.store.delete(ctx.layout.ref(ctx.repo, entry.ref), { ifMatch: entry.etag }).catch((error: unknown) => {
          if (!(error instanceof PreconditionFailed || error instanceof ObjectMissing)) throw error;
        }),
      );
      await publishServerInfo(ctx, merged, { createHead: false, sharedMoved: true });
      await createRefsFolder(ctx);
      return { etag, body: writeInfoRefs(merged) };
    } catch (error) {
      if (!(error instanceof PreconditionFailed || error instanceof ObjectMissing)) throw error;
      current = await getIndex(ctx, undefined);
      await jitter(attempt);
    }
  }
  throw new GitStoreError(
    "too-many-conflicts",
    `${ctx.layout.infoRefs(ctx.repo)} kept changing while its ref files were moved into it; try again.`,
  );
}

function toBucketRefs(body: string, ctx: RepoContext, etag: string): BucketRefs {
  const key = ctx.layout.infoRefs(ctx.repo);
  const { refs, corrupt, unreadable } = readRefsIndexBody(body, key);
  const result: BucketRefs = { shared: new Map(), synced: new Map(), corrupt, unreadable };
  // A name under refs/synced/ that no agent could have pushed is no ref to track: skipped as a line is.
  const syncedName = (ref: string, line: string): ReturnType<typeof parseSyncedRefName> | "unreadable" => {
    try {
      return parseSyncedRefName(ref);
    } catch (error) {
      result.unreadable.push(unreadableLine(key, line, error instanceof Error ? error.message : String(error)));
      return "unreadable";
    }
  };
  for (const ref of [...corrupt.keys()]) if (syncedName(ref, ref) === "unreadable") corrupt.delete(ref);
  for (const [ref, oid] of refs) {
    const synced = syncedName(ref, `${oid}\t${ref}`);
    if (synced === "unreadable") continue;
    if (synced) result.synced.set(ref, { ref, oid, etag, agent: synced.agent, syncedRef: synced.ref });
    else result.shared.set(ref, { ref, oid, etag });
  }
  return result;
}

/** What a file written now records; whatever it was loaded from, it is saved as this endpoint's own. */
function base(ctx: RepoContext): Pick<Cache, "format" | "where" | "endpoint"> {
  return { format: 1, where: where(ctx), endpoint: endpointOf(ctx) };
}

function where(ctx: RepoContext): string {
  return `${ctx.store.bucket}/${ctx.layout.repoRoot(ctx.repo)}`;
}

/** The store's endpoint, one way however it was written (a trailing slash, upper-case host). */
function endpointOf(ctx: RepoContext): string | null {
  const endpoint = ctx.store.endpoint;
  if (!endpoint) return null;
  try {
    return new URL(endpoint).href;
  } catch {
    return endpoint;
  }
}

/** The remote's own file: another remote's reads and writes never touch it, at another endpoint neither. */
function cacheFile(ctx: RepoContext): string {
  const endpoint = endpointOf(ctx);
  const name = createHash("sha256")
    .update(endpoint === null ? where(ctx) : `${endpoint}\n${where(ctx)}`)
    .digest("hex")
    .slice(0, 32);
  return join(notesDir(ctx.gitDir), `${name}.json`);
}

function notesDir(gitDir: string): string {
  return join(gitDir, "cloudbridge", "refs-index");
}

/**
 * Where earlier versions kept what they remembered, still read (never written) for the bucket and repository
 * they name: one file per bucket and repository, whatever the endpoint, and before that one file for all.
 * Such a file may be another endpoint's; what it remembered of the index is used only where the bucket's
 * answer checks it (a conditional read: an ETag not the endpoint's own gets the index whole), never in place
 * of a request, and its pack list not at all; only its word that the ref files were moved is kept.
 */
function legacyCacheFiles(ctx: RepoContext): string[] {
  const perRemote = join(
    ctx.gitDir,
    "cloudbridge",
    "refs-index",
    `${createHash("sha256").update(where(ctx)).digest("hex").slice(0, 32)}.json`,
  );
  return [perRemote, join(ctx.gitDir, "cloudbridge", "refs-index.json")];
}

/** Whether the cache was recorded at this store's endpoint (a file of an earlier version cannot say). */
function ownEndpoint(cache: Cache): boolean {
  return cache.endpoint !== undefined;
}

/**
 * What of `cache` this endpoint's file keeps: all of its own; of an earlier version's file only whether the
 * ref files were moved (what it remembered of the index and the pack list is the bucket's to confirm).
 */
function keptOf(ctx: RepoContext, cache: Cache | undefined): Cache {
  if (cache && ownEndpoint(cache)) return cache;
  return { ...base(ctx), etag: null, body: "", migrated: cache?.migrated ?? false };
}

/**
 * The notes this process is writing, by file, the last queued one's content: notes of one repository are
 * written one after another, each on top of the one before, so that two saved moments apart (a push's pack
 * list, then the index it wrote) both last, and neither waits for the other to be on disk before its request.
 * A file leaves the map once its last write is over; from then on it is read from disk again (another
 * process may write it).
 */
const noting = new Map<string, Promise<Cache | undefined>>();

/**
 * Writes the note `change` makes of the note as it is (undefined: nothing to write), after this process's
 * notes of the same file queued before it. `read`: the note as the caller read it, used when none is queued.
 */
function note(ctx: RepoContext, change: (cache: Cache | undefined) => Cache | undefined, read?: Cache): Promise<void> {
  const file = cacheFile(ctx);
  const before = noting.get(file);
  const written = (async () => {
    const cache = before ? await before.catch(() => loadSaved(ctx)) : (read ?? (await loadSaved(ctx)));
    const next = change(cache);
    if (!next) return cache;
    await save(ctx, next);
    return { ...next, ...base(ctx) };
  })();
  noting.set(file, written);
  const settled = () => {
    if (noting.get(file) === written) noting.delete(file);
  };
  written.then(settled, settled);
  return written.then(() => undefined);
}

/** The note as this process last queued it, else as saved. */
async function load(ctx: RepoContext): Promise<Cache | undefined> {
  const queued = noting.get(cacheFile(ctx));
  const latest = await queued?.catch(() => undefined);
  return latest ?? loadSaved(ctx);
}

/** The note as saved (this endpoint's file, else an earlier version's). */
async function loadSaved(ctx: RepoContext): Promise<Cache | undefined> {
  const own = await loadFrom(cacheFile(ctx), ctx);
  if (own) return own;
  for (const file of legacyCacheFiles(ctx)) {
    const saved = await loadFrom(file, ctx);
    if (saved) return { ...saved, endpoint: undefined };
  }
  return undefined;
}

async function loadFrom(file: string, ctx: RepoContext): Promise<Cache | undefined> {
  try {
    // Read at once, not through the thread pool: a small local file whose promise-based read takes four trips
    // to it, each waiting for this thread to be free, several ms of a push's path while its requests are being
    // made (the helper reads it up to six times a push, the first to ask for the index).
    const saved = JSON.parse(readFileSync(file, "utf8")) as Cache;
    const endpointOk = saved.endpoint === undefined || saved.endpoint === endpointOf(ctx);
    return saved.format === 1 && saved.where === where(ctx) && endpointOk && typeof saved.body === "string" ? saved : undefined;
  } catch {
    return undefined; // none yet, or damaged: read the bucket
  }
}

async function save(ctx: RepoContext, cache: Cache): Promise<void> {
  const file = cacheFile(ctx);
  const dir = dirname(file);
  await mkdir(dir, { recursive: true });
  // The notes are only ever added to when a remote's first is made (existsSync: one stat, beside a write).
  const first = !existsSync(file);
  const temp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  try {
    await writeFile(temp, JSON.stringify({ ...cache, ...base(ctx) }));
    await rename(temp, file);
  } catch (error) {
    // A write that failed (a full disk) or could not be put in place leaves no part of a note behind.
    await rm(temp, { force: true }).catch(() => undefined);
    throw error;
  }
  if (first) await pruneNotes(dir, file);
}

/**
 * Removes the temporary notes that processes killed between writing and renaming them left in `gitDir`
 * (a failed write removes its own). Called by a fetch that downloads packs (fetch.ts), beside its own
 * clean-up: such a fetch is frequent in a folder that other machines push to, and waits on the network
 * anyway, where a push (the helper alone, a process per push) would wait for the listing.
 */
export function removeAbandonedNotes(gitDir: string): Promise<void> {
  return pruneNotes(notesDir(gitDir));
}

/**
 * How many notes a repository keeps in `refs-index/`. One is made for every endpoint, bucket and repository
 * it ever reached (a local cloud started on a new port each time, an endpoint setting changed, a remote
 * removed), each as large as that index, and nothing else deletes them: past this many, the least recently
 * written go. A note is only ever a shortcut (a remote without one reads its index whole, and looks once
 * for format 1 and 2 ref files), so dropping one a remote still uses costs it a read, never a ref.
 */
export const KEPT_NOTES = 8;
/** A temporary note older than this was left by a process killed between writing and renaming it (a write takes ms). */
const ABANDONED_TEMP_MS = 60 * 60 * 1000;

/**
 * Deletes the abandoned temporary files of `dir`, and given `made` (a note just written) the notes past the
 * KEPT_NOTES most recently written, `made` among them.
 */
async function pruneNotes(dir: string, made?: string): Promise<void> {
  try {
    const found = await Promise.all(
      (await readdir(dir)).map(async (name) => {
        const info = await stat(join(dir, name)).catch(() => undefined);
        return info && { path: join(dir, name), temp: name.endsWith(".tmp"), mtimeMs: info.mtimeMs };
      }),
    );
    const files = found.filter((entry) => entry !== undefined).filter((entry) => entry.path !== made);
    const notes = files.filter((entry) => !entry.temp && entry.path.endsWith(".json")).sort((a, b) => b.mtimeMs - a.mtimeMs);
    const abandoned = files.filter((entry) => entry.temp && entry.mtimeMs < Date.now() - ABANDONED_TEMP_MS);
    await Promise.all([...(made ? notes.slice(KEPT_NOTES - 1) : []), ...abandoned].map(({ path }) => rm(path, { force: true })));
  } catch {
    // A file that could not be deleted now is deleted at the next fetch that downloads a pack, or remote's first note.
  }
}
