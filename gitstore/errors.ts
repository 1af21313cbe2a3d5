/**
 * What went wrong with a git repository in the bucket or its local counterpart. `code` is for programs,
 * `message` says what was wrong and what to do (for people).
 */
export type GitStoreErrorCode =
  | "corrupt-ref"
  | "corrupt-pack"
  | "missing-idx"
  | "missing-pack"
  | "missing-objects"
  | "unsafe-tree-entry"
  | "non-fast-forward"
  | "too-many-conflicts"
  | "git-failed"
  | "object-too-large"
  | "blobs-outside-pack"
  | "tree-too-large";

export class GitStoreError extends Error {
  readonly code: GitStoreErrorCode;
  constructor(code: GitStoreErrorCode, message: string) {
    super(message);
    this.name = "GitStoreError";
    this.code = code;
  }
}
