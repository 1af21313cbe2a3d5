import { CloudbridgeError } from "../protocol/core.ts";

/**
 * What went wrong with a git repository in the bucket or its local counterpart. `code` is for programs,
 * `message` says what was wrong and what to do (for people). Failures of git itself are LocalGitError.
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
  | "pack-failed"
  | "bad-merge"
  | "invalid-object-id"
  | "list-too-large"
  | "blobs-outside-pack"
  | "tree-too-large"
  | "server-info-failed";

export class GitStoreError extends CloudbridgeError<GitStoreErrorCode> {}
