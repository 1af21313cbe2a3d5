import { rm } from "node:fs/promises";
import { encodeDelta } from "./delta-format.ts";
import { GitStoreError } from "./errors.ts";
import { objectLinks, parseTree, type ObjectType } from "./object-format.ts";
import { PackWriter } from "./pack-writer.ts";

/**
 * A pack of given objects with deltas, written the way `git pack-objects` chooses them, for the engine
 * that has no git binary (isomorphic-git writes every object whole, so a repository it compacts stays
 * several times the size of a clone): every object gets the path it is found at from the commits among
 * them (git's `rev-list --objects`); objects are sorted by type, path and size, largest first, so the
 * versions of one file sit side by side; each is tried as a delta against the `window` objects before it
 * (bounded chain depth), and the smallest delta under half its size wins, else it is stored whole.
 *
 * Memory: the objects' ids, types, sizes and paths, the window's contents, and the contents read first
 * up to `heldBytes` (kept for the walk and the writing; past that, objects are read again when needed).
 */
export type ReadObject = (oid: string) => Promise<{ type: ObjectType; object: Uint8Array } | undefined>;

export interface DeltaPackOptions {
  /** Objects tried as bases for each (git's pack.window, 10). */
  window?: number;
  /** The longest delta chain (git's pack.depth, 50). */
  depth?: number;
  /**
   * Larger objects are stored whole and never used as a base (default 4 MiB). git's core.bigFileThreshold
   * is 512 MiB; this encoder is JavaScript, and cloudbridge keeps files of 1 MiB and more in the annex.
   */
  maxDeltaBytes?: number;
  /** Contents kept from the first read, at most this many bytes in all (default 64 MiB); the rest are read again. */
  heldBytes?: number;
}

export interface DeltaPackReport {
  /** The pack's trailing checksum (its name is `pack-<checksum>`). */
  checksum: string;
  objectCount: number;
  /** How many objects were written as deltas. */
  deltas: number;
}

interface Entry {
  oid: string;
  type: ObjectType;
  size: number;
  path: string | undefined;
  /** When the walk found it (newest commits first): the order among objects of one path and size. */
  found: number;
}

const TYPE_ORDER: Record<ObjectType, number> = { commit: 0, tree: 1, blob: 2, tag: 3 };
/** Objects larger than this are tried as deltas only against versions of the same path. */
const CROSS_PATH_BYTES = 64 * 1024;

export async function writeDeltaPack(
  read: ReadObject,
  oids: Iterable<string>,
  packPath: string,
  options: DeltaPackOptions = {},
): Promise<DeltaPackReport> {
  const windowSize = options.window ?? 10;
  const maxDepth = options.depth ?? 50;
  const maxDeltaBytes = options.maxDeltaBytes ?? 4 * 1024 * 1024;
  const held = new Map<string, { type: ObjectType; object: Uint8Array }>();
  let heldRoom = options.heldBytes ?? 64 * 1024 * 1024;
  const readOrFail = async (oid: string) => {
    const found = held.get(oid) ?? (await read(oid));
    if (!found) throw new GitStoreError("missing-objects", `The object ${oid} cannot be read from the packs being combined.`);
    return found;
  };

  // 1. Type and size of each object; the commits' root trees.
  const entries = new Map<string, Entry>();
  const roots: { tree: string; time: number }[] = [];
  for (const oid of oids) {
    if (entries.has(oid)) continue;
    const { type, object } = await readOrFail(oid);
    entries.set(oid, { oid, type, size: object.length, path: undefined, found: Infinity });
    if (object.length <= heldRoom) {
      held.set(oid, { type, object });
      heldRoom -= object.length;
    }
    if (type === "commit") roots.push({ tree: objectLinks(type, object, oid)[0]!, time: commitTime(object) });
  }

  // 2. Paths, from the trees of the commits among them (each tree walked once; objects of packs not
  //    combined are passed over). Objects no commit here reaches keep no path and are sorted after.
  //    Newest first, as rev-list lists them: among versions of a path of the same size, the newer is the
  //    base of the older, which is what a clone reads most.
  roots.sort((a, b) => b.time - a.time);
  let found = 0;
  for (const root of roots) {
    const stack: [string, string][] = [[root.tree, ""]];
    while (stack.length > 0) {
      const [oid, path] = stack.pop()!;
      const entry = entries.get(oid);
      if (!entry || entry.path !== undefined) continue;
      entry.path = path;
      entry.found = found++;
      if (entry.type !== "tree") continue;
      let children;
      try {
        children = parseTree((await readOrFail(oid)).object, oid);
      } catch {
        continue; // a name cloudbridge refuses: its entries stay without a path (they are packed all the same)
      }
      for (const child of children) if (child.mode !== "160000") stack.push([child.oid, path ? `${path}/${child.name}` : child.name]);
    }
  }
  const order = [...entries.values()].sort(
    (a, b) =>
      TYPE_ORDER[a.type] - TYPE_ORDER[b.type] ||
      Number(a.path === undefined) - Number(b.path === undefined) ||
      compare(a.path ?? "", b.path ?? "") ||
      b.size - a.size ||
      a.found - b.found ||
      compare(a.oid, b.oid),
  );

  // 3. Each object against the window before it, written as it is decided.
  const writer = await PackWriter.create(packPath, order.length);
  let deltas = 0;
  try {
    const window: { type: ObjectType; path: string | undefined; content: Uint8Array; offset: number; depth: number }[] = [];
    for (const entry of order) {
      const { object } = await readOrFail(entry.oid);
      held.delete(entry.oid);
      let best: { delta: Buffer; base: (typeof window)[number] } | undefined;
      if (object.length <= maxDeltaBytes) {
        for (let k = window.length - 1; k >= 0; k--) {
          const base = window[k]!;
          // git's bounds: a delta must save half the object, and a much larger base is not worth indexing.
          if (base.type !== entry.type || base.depth >= maxDepth || object.length < base.content.length / 32) continue;
          // A large object is tried only against versions of its own path: unrelated large files (photos,
          // archives) rarely share bytes, and a failed attempt costs a scan of half the object.
          if (object.length > CROSS_PATH_BYTES && base.path !== entry.path) continue;
          const limit = best ? best.delta.length - 1 : Math.floor(object.length / 2) - 20;
          if (limit <= 0) break;
          const delta = encodeDelta(base.content, object, limit);
          if (delta) best = { delta, base };
        }
      }
      const offset = best ? await writer.delta(best.base.offset, best.delta) : await writer.whole(entry.type, object);
      if (best) deltas++;
      if (object.length <= maxDeltaBytes) {
        window.push({ type: entry.type, path: entry.path, content: object, offset, depth: best ? best.base.depth + 1 : 0 });
        if (window.length > windowSize) window.shift();
      }
    }
    return { checksum: await writer.finish(), objectCount: order.length, deltas };
  } catch (error) {
    await writer.abandon();
    await rm(packPath, { force: true });
    throw error;
  }
}

/** A commit's committer time (seconds), 0 when it has none. */
function commitTime(content: Uint8Array): number {
  const header = Buffer.from(content).toString("latin1").split("\n\n", 1)[0]!;
  return Number(/^committer .* (\d+) [+-]\d{4}$/m.exec(header)?.[1] ?? 0);
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
