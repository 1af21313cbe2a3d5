import { GitStoreError } from "./errors.ts";
import { MAX_TREE_DEPTH, MAX_TREE_PATHS } from "./limits.ts";
import { BlobReader } from "../localgit/index.ts";

/**
 * How many paths a commit's tree holds and how deep it goes, counted without expanding it: trees are
 * content-addressed and one tree can be named many times, so a few hundred bytes of trees can stand for
 * millions of paths. Each distinct tree is read once (one `git cat-file --batch` for all of them, level
 * by level) and its figures are remembered by id, so the cost is that of the distinct trees, never of the
 * paths they expand to, and a tree seen in an earlier check costs nothing.
 */
export interface TreeSize {
  paths: number;
  /** Folders from the top to the deepest entry (a file at the top: 0). */
  depth: number;
}

/** Figures of trees already counted, by id (bounded; cleared when full). */
const known = new Map<string, TreeSize>();
const KNOWN_MAX = 200_000;

/**
 * The commits (or trees) of `revs` whose tree is past the bounds, with the error saying so. `env` may
 * name extra object directories (a quarantine). Figures above the bounds are capped, not exact.
 */
export async function treesPastBounds(
  gitDir: string,
  revs: readonly string[],
  describe: (rev: string) => string,
  env: Record<string, string> = {},
): Promise<Map<string, GitStoreError>> {
  const past = new Map<string, GitStoreError>();
  if (revs.length === 0) return past;
  // One `cat-file --batch` for every level, each level's trees asked for at once.
  const reader = new BlobReader(gitDir, { env });
  const trees = new Map<string, Buffer>();
  let rootIds: Array<string | undefined>;
  try {
    const readTrees = async (names: readonly string[]) =>
      (await Promise.all(names.map((name) => reader.readObject(name)))).map((object) => (object?.type === "tree" ? object : undefined));
    const roots = await readTrees(revs.map((rev) => `${rev}^{tree}`));
    rootIds = roots.map((object) => object?.oid);
    roots.forEach((object) => object && trees.set(object.oid, object.body));
    // Breadth first, only trees not counted before.
    let level = [...new Set(rootIds.filter((oid): oid is string => oid !== undefined && !known.has(oid)))];
    for (let depth = 0; level.length > 0 && depth <= MAX_TREE_DEPTH; depth++) {
      const below = new Set<string>();
      const missing = level.filter((oid) => !trees.has(oid));
      const read = await readTrees(missing);
      missing.forEach((oid, i) => read[i] && trees.set(oid, read[i].body));
      for (const oid of level) {
        for (const entry of treeEntries(trees.get(oid)))
          if (entry.tree && !known.has(entry.oid) && !trees.has(entry.oid)) below.add(entry.oid);
      }
      level = [...below];
    }
  } finally {
    await reader.close();
  }
  const counted = new Map<string, TreeSize>();
  const sizeOf = (oid: string): TreeSize => {
    const cached = known.get(oid) ?? counted.get(oid);
    if (cached) return cached;
    const body = trees.get(oid);
    // Not read: deeper than the bound (or missing, which the connectivity check reports): past the bound.
    if (body === undefined) return { paths: 0, depth: MAX_TREE_DEPTH + 1 };
    const size = { paths: 0, depth: 0 };
    for (const entry of treeEntries(body)) {
      if (!entry.tree) size.paths = Math.min(size.paths + 1, MAX_TREE_PATHS + 1);
      else {
        const sub = sizeOf(entry.oid);
        size.paths = Math.min(size.paths + sub.paths, MAX_TREE_PATHS + 1);
        size.depth = Math.min(Math.max(size.depth, sub.depth + 1), MAX_TREE_DEPTH + 1);
      }
    }
    counted.set(oid, size);
    if (size.depth <= MAX_TREE_DEPTH && size.paths <= MAX_TREE_PATHS) remember(oid, size);
    return size;
  };
  revs.forEach((rev, i) => {
    const root = rootIds[i];
    if (root === undefined) return; // not a commit or tree here: the connectivity check's business
    const size = sizeOf(root);
    if (size.paths > MAX_TREE_PATHS) {
      past.set(
        rev,
        new GitStoreError(
          "tree-too-large",
          `${describe(rev)} points at a tree of more than ${MAX_TREE_PATHS.toLocaleString("en-US")} paths; ` +
            "cloudbridge refuses it before writing anything (a folder that large, or trees named over and over to look like one). " +
            "Nothing was changed locally. Replace it with a forced push from a machine that has the right commit.",
        ),
      );
    } else if (size.depth > MAX_TREE_DEPTH) {
      past.set(
        rev,
        new GitStoreError(
          "tree-too-large",
          `${describe(rev)} points at a tree more than ${MAX_TREE_DEPTH} folders deep; cloudbridge refuses it before writing anything. ` +
            "Nothing was changed locally. Replace it with a forced push from a machine that has the right commit.",
        ),
      );
    }
  });
  return past;
}

function remember(oid: string, size: TreeSize): void {
  if (known.size >= KNOWN_MAX) known.clear();
  known.set(oid, size);
}

/** The entries of a raw tree object: `<mode> <name>\0<20-byte id>` each. */
function* treeEntries(body: Buffer | undefined): Generator<{ tree: boolean; oid: string }> {
  if (!body) return;
  let offset = 0;
  while (offset < body.length) {
    const space = body.indexOf(32, offset);
    const nul = body.indexOf(0, space);
    if (space < 0 || nul < 0 || nul + 21 > body.length) return; // malformed: git's fsck refused it at fetch
    const mode = body.subarray(offset, space).toString();
    yield { tree: mode === "40000" || mode === "040000", oid: body.subarray(nul + 1, nul + 21).toString("hex") };
    offset = nul + 21;
  }
}
