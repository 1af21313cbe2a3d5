/**
 * Bounds on what is read from the bucket. Anyone who can write to the bucket can make an object or a tree
 * as large as they like; past these bounds a reader refuses with a message instead of running out of
 * memory or time (docs/git.md, "Bounds"). Each is far above what an honest repository holds.
 */

/** A ref file holds 41 bytes (an object id and a newline), HEAD about 22. */
export const MAX_REF_FILE_BYTES = 1024;

/** The refs index (info/refs): about 90 bytes a ref, so some 180,000 refs (synced refs of many agents). */
export const MAX_REFS_INDEX_BYTES = 16 * 1024 * 1024;

/** objects/info/packs and the retired-pack list: about 50 bytes a pack, so some 300,000 packs. */
export const MAX_PACK_LIST_BYTES = 16 * 1024 * 1024;

/** Files (and symlinks, submodules) in one commit's tree, counted through every folder. */
export const MAX_TREE_PATHS = 1_000_000;

/** Folders from the top of a commit's tree to its deepest file. */
export const MAX_TREE_DEPTH = 256;
