import { createHash, randomBytes } from "node:crypto";
import { rm } from "node:fs/promises";
import { join, posix } from "node:path";
import { parsePointer } from "../../annex/index.ts";
import { BlobReader, encodePath, type Git, type TreeEntry } from "../../localgit/index.ts";

/**
 * Merging as git-annex's assistant does: both sides' changes are kept, and nothing a person wrote is
 * lost or mangled. Per path, against the merge base:
 * - changed on one side only → that side (this is how renames and deletes propagate: a rename is a
 *   delete plus an add);
 * - changed on both sides to different content → `theirs` (what is already shared) keeps the name and
 *   `ours` is kept next to it as `name.variant-XXXX.ext`, XXXX the first 4 hex digits of the MD5 of its
 *   git-annex key (or of its blob id for a small file), as git-annex names variants;
 * - edited on one side, deleted on the other → the edit is kept;
 * - a file on one side where the other has a directory → the file moves to a variant name.
 * There is never a conflict marker inside a file. The result is a merge commit with parents ours, theirs.
 * Usable as the git layer's push merge callback and after a fetch.
 */
export interface MergeInput {
  base: string | undefined;
  ours: string;
  theirs: string;
}

export interface MergeOutcome {
  commit: string;
  /** Paths where both versions were kept: the name holds theirs, `variant` holds ours. */
  variants: Array<{ path: string; variant: string }>;
}

export async function mergeCommits(git: Git, input: MergeInput, options: { message?: string; scratchDir: string }): Promise<MergeOutcome> {
  const { base, ours, theirs } = input;
  if (ours === theirs || (base !== undefined && base === theirs)) return { commit: ours, variants: [] };
  if (base !== undefined && base === ours) return { commit: theirs, variants: [] };
  const [b, o, t] = await Promise.all([base ? git.lsTree(base) : new Map<string, TreeEntry>(), git.lsTree(ours), git.lsTree(theirs)]);

  const result = new Map(t);
  const conflicted: Array<{ path: string; entry: TreeEntry }> = [];
  const paths = new Set([...b.keys(), ...o.keys(), ...t.keys()]);
  for (const path of paths) {
    const be = b.get(path);
    const oe = o.get(path);
    const te = t.get(path);
    if (same(oe, te) || same(be, oe)) continue; // result already holds theirs
    if (same(be, te)) {
      if (oe) result.set(path, oe);
      else result.delete(path);
      continue;
    }
    // Changed on both sides, differently.
    if (oe && te) conflicted.push({ path, entry: oe });
    else if (oe) result.set(path, oe); // deleted by them, edited by us: keep the edit
    // else: deleted by us, edited by them: theirs is already in result
  }

  const variants: MergeOutcome["variants"] = [];
  let reader: BlobReader | undefined;
  try {
    const place = async (path: string, entry: TreeEntry): Promise<void> => {
      reader ??= new BlobReader(git.gitDir);
      const variant = variantName(path, await variantSeed(reader, entry), result);
      result.set(variant, entry);
      variants.push({ path, variant });
    };
    for (const { path, entry } of conflicted) await place(path, entry);
    // A file where the other side has a directory: the file steps aside to a variant name.
    const directories = new Set<string>();
    for (const path of result.keys()) for (let d = posix.dirname(path); d !== "."; d = posix.dirname(d)) directories.add(d);
    for (const path of [...result.keys()]) {
      if (!directories.has(path)) continue;
      const entry = result.get(path)!;
      result.delete(path);
      await place(path, entry);
    }
  } finally {
    await reader?.close();
  }

  const tree = await writeTree(git, result, options.scratchDir);
  const commit = await git.commitTree(tree, [ours, theirs], options.message ?? "cloudbridge: merge");
  return { commit, variants };
}

function same(a: TreeEntry | undefined, b: TreeEntry | undefined): boolean {
  return a === b || (a !== undefined && b !== undefined && a.oid === b.oid && a.mode === b.mode);
}

/** The git-annex key of a pointer blob, else the blob id: what the variant's 4 hex digits are derived from. */
async function variantSeed(reader: BlobReader, entry: TreeEntry): Promise<string> {
  if (entry.mode === "120000" || entry.mode === "160000") return entry.oid;
  const blob = await reader.read(entry.oid);
  return (blob && parsePointer(blob)) ?? entry.oid;
}

/** `dir/name.ext` → `dir/name.variant-XXXX.ext`, longer XXXX when that name is taken. */
export function variantName(path: string, seed: string, taken: ReadonlyMap<string, unknown>): string {
  const hash = createHash("md5").update(seed).digest("hex");
  const dir = posix.dirname(path);
  const name = posix.basename(path);
  const dot = name.lastIndexOf(".");
  const [stem, ext] = dot > 0 ? [name.slice(0, dot), name.slice(dot)] : [name, ""];
  for (const length of [4, 8, 32]) {
    const candidate = `${dir === "." ? "" : `${dir}/`}${stem}.variant-${hash.slice(0, length)}${ext}`;
    if (!taken.has(candidate)) return candidate;
  }
  return `${dir === "." ? "" : `${dir}/`}${stem}.variant-${hash}-${randomBytes(4).toString("hex")}${ext}`;
}

/** Writes a tree holding exactly `entries`, through a throw-away index. */
export async function writeTree(git: Git, entries: ReadonlyMap<string, TreeEntry>, scratchDir: string): Promise<string> {
  const index = join(scratchDir, `merge-index-${process.pid}-${randomBytes(4).toString("hex")}`);
  const scratch = git.with({ GIT_INDEX_FILE: index });
  try {
    const lines: Buffer[] = [];
    for (const [path, e] of entries) {
      lines.push(Buffer.from(`${e.mode} ${e.mode === "160000" ? "commit" : "blob"} ${e.oid}\t`), encodePath(path), Buffer.from("\0"));
    }
    await scratch.run(["update-index", "-z", "--add", "--index-info"], { input: Buffer.concat(lines) });
    return await scratch.text(["write-tree"]);
  } finally {
    await rm(index, { force: true });
  }
}
