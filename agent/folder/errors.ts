import { CloudbridgeError } from "../../protocol/index.ts";

/**
 * A folder that cannot be opened, created or joined as asked: not set up, a setting with a wrong value,
 * a folder or bucket repository that is already there (or not yet), a bucket of another format, a
 * daemon already syncing it, a git repository with its own history that init was not told what to do with.
 * Each is fixed by the person (another command or setting), which the message names.
 */
export type FolderErrorCode =
  | "not-a-folder"
  | "invalid-setting"
  | "already-a-folder"
  | "folder-not-empty"
  | "repository-exists"
  | "no-such-repository"
  | "unsupported-format"
  | "daemon-running"
  | "clone-unfinished"
  | "existing-history";

export class FolderError extends CloudbridgeError<FolderErrorCode> {}
