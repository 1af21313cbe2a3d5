import type { Stats } from "node:fs";

/**
 * What the sync engine needs from annexed content (the annex layer): which files are annexed, how a
 * work-tree file becomes a key plus a pointer blob, and how a pointer becomes content again.
 * The engine works on git trees; an annexed file is a pointer blob there (`/annex/objects/<KEY>\n`).
 */
export interface AnnexPort {
  /**
   * Whether a file of this size and path is annexed: by the folder's largefiles rule, or because it is
   * annexed already as `annexedAs` and still its key's size (annex's goesToAnnex).
   */
  goesToAnnex(path: string, size: number, annexedAs?: string): boolean;
  /** Moves a copy of the file into the local annex store, returns its key (hash verified while copying). */
  ingest(absPath: string, path: string): Promise<string>;
  /** The key a pointer blob names, or undefined when the blob is not a pointer. */
  parsePointer(blob: Buffer): string | undefined;
  formatPointer(key: string): string;
  /**
   * Copies the content of `key` from the local store to `path`, a new file (the caller's temporary, which it
   * looks at its destination again before renaming into place); false when the content is not here.
   */
  materialize(key: string, path: string, mode: number): Promise<boolean>;
  /** Puts the content of `key` in place of the pointer file `dest` if it is still that pointer; the placed file's stat. */
  place(key: string, dest: string, mode: number): Promise<Stats | undefined>;
}
