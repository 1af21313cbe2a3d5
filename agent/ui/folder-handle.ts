import type { SyncedFolder } from "../folder/index.ts";
import type { LiveFolderState } from "../status/folder-status.ts";

/**
 * What a daemon offers the page for one of its folders, and nothing more: the folder (opened once, shared
 * with the daemon's rounds), what only the daemon knows (its state, transfers in flight, the last round's
 * refusals), a way to ask for a round, and a signal when something changed. A daemon that serves several
 * folders hands the page one handle per folder.
 */
export interface FolderHandle {
  /** Stable within the daemon's life: the folder's agent id. */
  readonly id: string;
  readonly folder: SyncedFolder;
  live(): LiveFolderState;
  /** A round over these paths (files the page changed), or a full one. Skipped while the folder is paused. */
  sync(paths?: string[]): Promise<void>;
  /** Called when the status changed ("status") or transfers moved ("transfers"); returns the unsubscribe. */
  onUpdate(listener: (what: "status" | "transfers") => void): () => void;
}
