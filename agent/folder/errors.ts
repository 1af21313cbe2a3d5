import { stat } from "node:fs/promises";
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
 * `dir` (at `root`) is no cloudbridge folder: what every command that works on one says, with how to make it
 * one; `lacking`, when its git config was read, names the settings it lacks. `isFile`: `root` is a file (in
 * no folder, or the folder around it would have been found), which init and clone cannot make a folder of.
 */
export function notAFolder(root: string, dir: string, lacking?: string, isFile = false): FolderError {
  if (isFile)
    return new FolderError(
      "not-a-folder",
      `${root} is a file, not a cloudbridge folder, and no cloudbridge folder holds it: name the folder to sync (one that \`cloudbridge init DIR --remote s3://BUCKET/REPO\` or \`cloudbridge clone s3://BUCKET/REPO DIR\` made).`,
    );
  return new FolderError(
    "not-a-folder",
    `${root} is not a cloudbridge folder${lacking ? ` (its git config lacks ${lacking})` : ""}: ` +
      `run \`cloudbridge init ${dir} --remote s3://BUCKET/REPO\` or \`cloudbridge clone s3://BUCKET/REPO ${dir}\`.`,
  );
}

/** notAFolder for a path a command was given, told by one stat whether it is a file. */
export async function notAFolderAt(root: string, dir: string): Promise<FolderError> {
  const isFile = await stat(root).then(
    (s) => s.isFile(),
    () => false,
  );
  return notAFolder(root, dir, undefined, isFile);
}

/**
 * A command run in a linked worktree (`git worktree add`) of a cloudbridge folder: the worktree is another
 * checkout of the folder's repository (its settings are the folder's: one git config), not a folder of its
 * own, and the folder around or beside it is not what the person pointed at. One explanation for every
 * command, with a tail saying what to do instead: for `sync` and `status`, the command to run on the folder
 * and how this worktree's work gets into it; for `init` (of `dir`), where a new folder can be made instead.
 */
export function inLinkedWorktree(found: { worktree: string; folder: string }, command: "sync" | "status"): FolderError;
export function inLinkedWorktree(found: { worktree: string; folder: string }, command: "init", dir: string): FolderError;
export function inLinkedWorktree(
  found: { worktree: string; folder: string },
  command: "sync" | "status" | "init",
  dir?: string,
): FolderError {
  const what =
    `${found.worktree} is a linked worktree (git worktree add) of the cloudbridge folder ${found.folder}, sharing its repository and settings, ` +
    `not a folder of its own: cloudbridge syncs the folder's own files only.`;
  if (command === "init")
    return new FolderError(
      "already-a-folder",
      `${what} ${dir ?? found.worktree} cannot be a folder of its own there: init a directory outside both, or run cloudbridge commands in ${found.folder}. Nothing was changed.`,
    );
  return new FolderError(
    "not-a-folder",
    `${what} For the folder, run \`cloudbridge ${command} ${found.folder}\`; ` +
      `to bring this worktree's work into it, commit it here and merge its branch in the folder (\`git -C ${found.folder} merge BRANCH\`), then sync the folder.` +
      (command === "sync" ? " Nothing was synced." : ""),
  );
}
