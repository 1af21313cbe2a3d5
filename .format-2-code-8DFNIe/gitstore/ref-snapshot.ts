import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { parseSyncedRefName } from "../protocol/index.ts";
import { GitStoreError, type GitStoreErrorCode } from "./errors.ts";
import { knownRefs, readBucketRefs, type BucketRefs } from "./bucket-refs.ts";
import type { RepoContext } from "./repo-context.ts";

/**
 * The bucket's refs as last read, kept in `.git/cloudbridge/bucket-refs.json` with the ETag `info/refs`
 * had then, so that a sync with nothing new costs the same whatever the number of agents:
 *
 * - a push rewrites `info/refs` after every ref it moved (the write order), so while its ETag is the one
 *   seen at the last full read, the synced refs are read from the snapshot (one HEAD instead of a LIST
 *   page per 1,000 refs and a GET per changed ref);
 * - the shared branches (`refs/heads/`, a handful) are listed every time anyway, so a push interrupted
 *   after its compare-and-swap but before `info/refs` is still seen at once;
 * - everything is read again at least every `FULL_READ_MS`, whatever `info/refs` says (a writer that
 *   never rewrote it), and then only refs whose ETag changed are fetched.
 */
export const FULL_READ_MS = 10 * 60 * 1000;

interface Snapshot {
  format: 1;
  /** The bucket and repository root it describes. */
  where: string;
  infoRefs: string | null;
  readAt: number;
  refs: Array<[ref: string, oid: string, etag: string]>;
  corrupt: Array<[ref: string, code: GitStoreErrorCode, message: string]>;
}

export async function readBucketRefsCached(ctx: RepoContext, now = Date.now()): Promise<BucketRefs> {
  const file = snapshotFile(ctx.gitDir);
  const where = `${ctx.store.bucket}/${ctx.layout.repoRoot(ctx.repo)}`;
  const saved = await load(file, where);
  const infoRefs = (await ctx.store.head(ctx.layout.infoRefs(ctx.repo)))?.etag ?? null;
  if (saved && saved.infoRefs === infoRefs && now - saved.readAt < FULL_READ_MS) {
    const refs = fromSnapshot(saved);
    const heads = await readBucketRefs(ctx.store, ctx.layout, ctx.repo, knownRefs(refs), ctx.layout.refsRoot(ctx.repo) + "heads/");
    let changed = false;
    for (const ref of refs.shared.keys()) {
      if (!ref.startsWith("refs/heads/") || heads.shared.has(ref) || heads.corrupt.has(ref)) continue;
      refs.shared.delete(ref);
      changed = true;
    }
    for (const [ref, entry] of heads.shared) {
      if (refs.shared.get(ref)?.etag === entry.etag) continue;
      refs.shared.set(ref, entry);
      refs.corrupt.delete(ref);
      changed = true;
    }
    for (const [ref, error] of heads.corrupt) {
      if (refs.corrupt.has(ref)) continue;
      refs.shared.delete(ref);
      refs.corrupt.set(ref, error);
      changed = true;
    }
    if (changed) await save(file, { ...saved, ...toSnapshot(refs) });
    return refs;
  }
  const refs = await readBucketRefs(ctx.store, ctx.layout, ctx.repo, saved ? knownRefs(fromSnapshot(saved)) : new Map());
  await save(file, { format: 1, where, infoRefs, readAt: now, ...toSnapshot(refs) });
  return refs;
}

/** The ref versions of the last snapshot (to pass as `known` to a full read), if any. */
export async function snapshotRefs(ctx: RepoContext): Promise<Map<string, { oid: string; etag: string }>> {
  const saved = await load(snapshotFile(ctx.gitDir), `${ctx.store.bucket}/${ctx.layout.repoRoot(ctx.repo)}`);
  return saved ? knownRefs(fromSnapshot(saved)) : new Map();
}

function snapshotFile(gitDir: string): string {
  return join(gitDir, "cloudbridge", "bucket-refs.json");
}

function fromSnapshot(saved: Snapshot): BucketRefs {
  const refs: BucketRefs = { shared: new Map(), synced: new Map(), corrupt: new Map() };
  for (const [ref, oid, etag] of saved.refs) {
    const synced = parseSyncedRefName(ref);
    if (synced) refs.synced.set(ref, { ref, oid, etag, agent: synced.agent, syncedRef: synced.ref });
    else refs.shared.set(ref, { ref, oid, etag });
  }
  for (const [ref, code, message] of saved.corrupt) refs.corrupt.set(ref, new GitStoreError(code, message));
  return refs;
}

function toSnapshot(refs: BucketRefs): Pick<Snapshot, "refs" | "corrupt"> {
  return {
    refs: [...refs.shared.values(), ...refs.synced.values()].map(({ ref, oid, etag }) => [ref, oid, etag]),
    corrupt: [...refs.corrupt].map(([ref, error]) => [ref, error.code, error.message]),
  };
}

async function load(file: string, where: string): Promise<Snapshot | undefined> {
  try {
    const saved = JSON.parse(await readFile(file, "utf8")) as Snapshot;
    return saved.format === 1 && saved.where === where ? saved : undefined;
  } catch {
    return undefined; // none yet, or damaged: a full read
  }
}

async function save(file: string, snapshot: Snapshot): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  const temp = `${file}.${process.pid}.tmp`;
  await writeFile(temp, JSON.stringify(snapshot));
  await rename(temp, file);
}
