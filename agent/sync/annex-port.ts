/**
 * What the sync engine needs from annexed content (issue 4's layer): which files are annexed, how a
 * work-tree file becomes a key plus a pointer blob, and how a pointer becomes content again.
 * The engine works on git trees; an annexed file is a pointer blob there (`/annex/objects/<KEY>\n`).
 */
export interface AnnexPort {
  /** Whether a file of this size and path is annexed (like annex.largefiles). */
  isLarge(path: string, size: number): boolean;
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
}

export const POINTER_PREFIX = "/annex/objects/";

/** A pointer blob is small; anything larger is content, not a pointer. */
export const MAX_POINTER_SIZE = 32 * 1024;
