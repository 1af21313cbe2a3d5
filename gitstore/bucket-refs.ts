import { ObjectTooLarge, type ObjectStore, mapLimit, UndecryptableObject } from "../objectstore/index.ts";
import { parseSyncedRefName, type BucketLayout } from "../protocol/core.ts";
import { GitStoreError } from "./errors.ts";
import { MAX_REF_FILE_BYTES } from "./limits.ts";
import { parseRefFile } from "./ref-file.ts";

/** A ref as read from the bucket, with the ETag a compare-and-swap must name. */
export interface BucketRef {
  ref: string;
  oid: string;
  etag: string;
}

export interface BucketRefs {
  /** Shared refs (`refs/heads/main`, `refs/heads/git-annex`, tags…), updated by compare-and-swap. */
  shared: Map<string, BucketRef>;
  /** Every agent's own refs, by full name (`refs/synced/<agent>/heads/main`). */
  synced: Map<string, BucketRef & { agent: string; syncedRef: string }>;
  /** Refs whose body is not an object id: reported, never used. */
  corrupt: Map<string, GitStoreError>;
  /** Lines of the refs index that name no ref at all (info-refs.ts, readRefsIndexBody): reported, skipped. */
  unreadable: GitStoreError[];
}

/**
 * Every ref of a repository in the bucket (or under `root`, a folder of `refs/`): one LIST and one GET
 * per ref whose version is not `known`. Each key is parsed by protocol/layout.ts, so a malformed ref name
 * from the bucket throws before it is used anywhere.
 */
export async function readBucketRefs(
  store: ObjectStore,
  layout: BucketLayout,
  repo: string,
  known: ReadonlyMap<string, { oid: string; etag: string }> = new Map(),
  root = layout.refsRoot(repo),
): Promise<BucketRefs> {
  const listed: { key: string; etag: string; size: number }[] = [];
  for await (const info of store.list(root)) listed.push(info);
  const result: BucketRefs = { shared: new Map(), synced: new Map(), corrupt: new Map(), unreadable: [] };
  await mapLimit(listed, 8, async ({ key, etag, size }) => {
    const parsed = layout.parse(key);
    if (parsed.kind !== "ref" && parsed.kind !== "synced-ref") return;
    const ref = key.slice(layout.repoRoot(repo).length);
    try {
      // A ref whose ETag we already know (we read or wrote that very version) needs no GET.
      const cached = known.get(ref);
      let body: Buffer | string;
      if (cached && cached.etag === etag) {
        body = `${cached.oid}\n`;
      } else {
        if (size > MAX_REF_FILE_BYTES) throw tooLarge(key, size);
        const object = await store.get(key, { maxBytes: MAX_REF_FILE_BYTES }).catch((error: unknown) => {
          throw error instanceof ObjectTooLarge ? tooLarge(key, error.size) : error;
        });
        if (!object || object === "not-modified") return; // deleted since the listing
        body = object.body;
        etag = object.etag;
      }
      const entry = { ref, oid: parseRefFile(body, key), etag };
      if (parsed.kind === "ref") result.shared.set(ref, entry);
      else result.synced.set(ref, { ...entry, agent: parsed.agent, syncedRef: parsed.ref });
    } catch (error) {
      // A ref of an encrypted repository that does not decrypt is damaged like any other.
      if (error instanceof UndecryptableObject) result.corrupt.set(ref, new GitStoreError("corrupt-ref", error.message));
      else if (!(error instanceof GitStoreError)) throw error;
      else result.corrupt.set(ref, error);
    }
  });
  return result;
}

function tooLarge(key: string, size: number): GitStoreError {
  return new GitStoreError(
    "corrupt-ref",
    `The ref ${key} in the bucket holds ${size} bytes; a ref holds an object id (41 bytes). It was not read. ` +
      "It was damaged or written by something other than git: replace it with a forced push from a machine that has the right commit, or delete it.",
  );
}

/** Every ref of `refs` with its oid and ETag, by full name, to pass back as `known`. */
export function knownRefs(refs: BucketRefs): Map<string, { oid: string; etag: string }> {
  return new Map([...refs.shared, ...refs.synced]);
}

/**
 * The first damaged shared ref, if any. A damaged shared ref stops a fetch (everyone syncs to it); a
 * damaged synced ref of one agent is only reported, so one agent's trouble does not stop the others.
 */
export function corruptSharedRef(refs: BucketRefs): GitStoreError | undefined {
  return [...refs.corrupt].find(([ref]) => parseSyncedRefName(ref) === undefined)?.[1];
}

/** Every object id the bucket's refs point at. */
export function bucketTips(refs: BucketRefs): string[] {
  return [...new Set([...refs.shared.values(), ...refs.synced.values()].map((entry) => entry.oid))];
}
