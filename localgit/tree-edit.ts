import { writeLooseObject, type BlobReader } from "./objects.ts";
import { decodePath, encodePath } from "./tree.ts";

/**
 * A new tree from an old one and a few changed paths, without git's index: only the trees on the way to
 * each changed path are read and written again (a one-file change in a folder of 100,000 files reads and
 * writes two or three trees, where `update-index` and `write-tree` each read and hash the index of all
 * 100,000). Trees are written as git writes them: entries in git's order (a folder sorts as its name with
 * a "/"), folders as mode 40000, one zlib-compressed loose object each.
 */
export interface TreeEdit {
  mode: string;
  oid: string;
}

/** The edit cannot be made as asked: a file and a folder would share a name (git's index would refuse it too). */
export class TreeEditConflict extends Error {}

interface Entry {
  mode: string;
  oid: string;
}

/** The changes below one folder: names set or removed here, and the folders below with changes of their own. */
interface Level {
  here: Map<string, TreeEdit | null>;
  below: Map<string, Level>;
}

/**
 * The tree `base` (a tree, or `<commit>^{tree}`) with `edits` applied (path → new entry, null: removed), read
 * through `reader` and written into `gitDir`. Folders left empty disappear, as they do in git.
 */
export async function editTree(
  gitDir: string,
  reader: BlobReader,
  base: string,
  edits: ReadonlyMap<string, TreeEdit | null>,
): Promise<string> {
  const root: Level = { here: new Map(), below: new Map() };
  for (const [path, edit] of edits) {
    const parts = path.split("/");
    let level = root;
    for (const dir of parts.slice(0, -1)) {
      let next = level.below.get(dir);
      if (!next) level.below.set(dir, (next = { here: new Map(), below: new Map() }));
      level = next;
    }
    level.here.set(parts.at(-1)!, edit);
  }
  const baseObject = await reader.readObject(base);
  if (!baseObject || baseObject.type !== "tree") throw new Error(`${base} is not a tree in ${gitDir}`);
  const hashLength = idLength(base);
  const write = (entries: Map<string, Entry>) => writeTreeObject(gitDir, entries, hashLength);
  const apply = async (body: Buffer | undefined, level: Level, where: string): Promise<string | undefined> => {
    const entries = body ? parseTree(body, hashLength) : new Map<string, Entry>();
    // Removals first, then the folders below, then what is set here: a file that becomes a folder (or the
    // other way round) is removed before its new self is made.
    for (const [name, edit] of level.here) if (edit === null) entries.delete(name);
    // The folders below are edited side by side: their trees are asked of the reader together (one git
    // process answers them in turn) and written together, so a change of many files in many folders (the
    // git-annex branch, a folder per key) is not a read and a write after another per folder.
    const subtrees = await Promise.all(
      [...level.below].map(async ([name, sub]) => {
        const old = entries.get(name);
        if (old && old.mode !== TREE_MODE) throw new TreeEditConflict(`${where}${name} is a file and a folder at once`);
        const oldBody = old ? await readTree(reader, old.oid) : undefined;
        return [name, await apply(oldBody, sub, `${where}${name}/`)] as const;
      }),
    );
    for (const [name, oid] of subtrees) {
      if (oid === undefined) entries.delete(name);
      else entries.set(name, { mode: TREE_MODE, oid });
    }
    for (const [name, edit] of level.here) {
      if (edit === null) continue;
      if (entries.get(name)?.mode === TREE_MODE) throw new TreeEditConflict(`${where}${name} is a file and a folder at once`);
      entries.set(name, edit);
    }
    if (entries.size === 0 && where !== "") return undefined;
    return write(entries);
  };
  return (await apply(baseObject.body, root, ""))!;
}

export const TREE_MODE = "40000";

export async function readTree(reader: BlobReader, oid: string): Promise<Buffer> {
  const object = await reader.readObject(oid);
  if (!object || object.type !== "tree") throw new Error(`the tree ${oid} is missing from the repository; run \`git fsck\``);
  return object.body;
}

/** The length in bytes of the repository's ids (SHA-1: 20, SHA-256: 32), from the id `base` starts with. */
export function idLength(base: string): number {
  const id = /^[0-9a-f]+/.exec(base)?.[0] ?? "";
  if (id.length === 40) return 20;
  if (id.length === 64) return 32;
  throw new Error(`cannot tell the object format from ${JSON.stringify(base)}`);
}

/** A raw tree's entries by name (names are kept as git's bytes, in the lossless spelling of tree.ts). */
export function parseTree(body: Buffer, hashLength: number): Map<string, Entry> {
  const entries = new Map<string, Entry>();
  let offset = 0;
  while (offset < body.length) {
    const space = body.indexOf(32, offset);
    const nul = body.indexOf(0, space);
    if (space < 0 || nul < 0 || nul + 1 + hashLength > body.length)
      throw new Error("a tree in the repository is malformed; run `git fsck`");
    const name = decodePath(body.subarray(space + 1, nul));
    entries.set(name, { mode: body.toString("latin1", offset, space), oid: body.toString("hex", nul + 1, nul + 1 + hashLength) });
    offset = nul + 1 + hashLength;
  }
  return entries;
}

/** git's order of tree entries: by the bytes of the name, a folder's name followed by "/". */
function sortKey(name: Buffer, mode: string): Buffer {
  return mode === TREE_MODE ? Buffer.concat([name, SLASH]) : name;
}

async function writeTreeObject(gitDir: string, entries: Map<string, Entry>, hashLength: number): Promise<string> {
  const rows = [...entries].map(([name, entry]) => ({ name: encodePath(name), ...entry }));
  rows.sort((a, b) => Buffer.compare(sortKey(a.name, a.mode), sortKey(b.name, b.mode)));
  const body = Buffer.concat(rows.flatMap((row) => [Buffer.from(`${normalMode(row.mode)} `), row.name, NUL, Buffer.from(row.oid, "hex")]));
  return writeLooseObject(gitDir, "tree", body, hashLength === 32 ? "sha256" : "sha1");
}

/** git writes a folder's mode as 40000, never zero-padded. */
function normalMode(mode: string): string {
  return mode === "040000" ? TREE_MODE : mode;
}

const NUL = Buffer.from([0]);
const SLASH = Buffer.from("/");
