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

/**
 * A command that reads or syncs a folder, run in a linked worktree (`git worktree add`) of one: the worktree is
 * another checkout of the folder's repository, not a folder of its own, and the folder around or beside it is
 * not what the person pointed at. `command` is what to run on the folder instead.
 */
export function inLinkedWorktree(found: { worktree: string; folder: string }, command: "sync" | "status"): FolderError {
  return new FolderError(
    "not-a-folder",
    `${found.worktree} is a linked worktree (git worktree add) of the cloudbridge folder ${found.folder}, not a folder of its own: ` +
      `cloudbridge syncs the folder's own files only. For the folder, run \`cloudbridge ${command} ${found.folder}\`; ` +
      `to bring this worktree's work into it, commit it here and merge its branch in the folder (\`git -C ${found.folder} merge BRANCH\`), then sync the folder.` +
      (command === "sync" ? " Nothing was synced." : ""),
  );
}
