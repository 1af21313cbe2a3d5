import type { BlobReader } from "./objects.ts";
import { idLength, parseTree, readTree, TREE_MODE } from "./tree-edit.ts";
import type { TreeChange } from "./tree.ts";

/**
 * The files added, changed or deleted from tree `from` to tree `to` (ids, or `<commit>^{tree}`), as
 * `diff-tree -r --no-renames` lists them, read through a `cat-file --batch` already running: only the trees
 * that differ are read, so a one-file change costs the trees on its path, whatever the folder's size, and
 * no process is started. A submodule is one entry, as in git.
 */
export async function treeChanges(reader: BlobReader, from: string, to: string): Promise<TreeChange[]> {
  const hashLength = idLength(from);
  const changes: TreeChange[] = [];
  const read = async (tree: string | undefined) => (tree ? parseTree(await readTree(reader, tree), hashLength) : new Map());
  const walk = async (a: string | undefined, b: string | undefined, prefix: string): Promise<void> => {
    const [before, after] = await Promise.all([read(a), read(b)]);
    const below: Array<Promise<void>> = [];
    for (const name of new Set([...before.keys(), ...after.keys()])) {
      const old = before.get(name);
      const now = after.get(name);
      if (old && now && old.oid === now.oid && old.mode === now.mode) continue;
      const path = prefix + name;
      const oldTree = old && isTree(old.mode) ? old.oid : undefined;
      const newTree = now && isTree(now.mode) ? now.oid : undefined;
      if (old && !oldTree && !(now && !newTree)) changes.push({ path, mode: old.mode, oid: old.oid, deleted: true });
      if (now && !newTree) changes.push({ path, mode: now.mode, oid: now.oid, deleted: false });
      if (oldTree || newTree) below.push(walk(oldTree, newTree, `${path}/`));
    }
    await Promise.all(below);
  };
  await walk(from, to, "");
  return changes.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : Number(b.deleted) - Number(a.deleted)));
}

/** A folder's mode, as git writes it or zero-padded (git reads both). */
function isTree(mode: string): boolean {
  return mode === TREE_MODE || mode === "040000";
}
