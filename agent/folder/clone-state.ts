import { mkdir, readFile, rm } from "node:fs/promises";
import { dirname, join } from "node:path";
import { writeFileAtomic } from "../sync/atomic-file.ts";

/**
 * A clone in progress, recorded in `.git/cloudbridge/clone-unfinished` from before `git init` until the
 * folder holds the bucket's files: the URL, and once known the commit being written. While it exists the
 * folder is not synced (its files are the clone's, half written, not a person's changes: committing
 * them would start a second history), and `cloudbridge clone` with the same URL finishes the clone.
 */
export interface CloneState {
  url: string;
  /** The commit whose files the clone is writing (set before the first file is written). */
  target?: string;
  /** The folder had files of its own before the clone: those that differ from the bucket's step aside first. */
  joining?: boolean;
}

export function cloneStateFile(root: string): string {
  return join(root, ".git", "cloudbridge", "clone-unfinished");
}

export async function readCloneState(root: string): Promise<CloneState | undefined> {
  try {
    const state = JSON.parse(await readFile(cloneStateFile(root), "utf8")) as CloneState;
    return typeof state.url === "string" ? state : { url: "" };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    return { url: "" }; // damaged: still an unfinished clone
  }
}

export async function writeCloneState(root: string, state: CloneState): Promise<void> {
  await mkdir(dirname(cloneStateFile(root)), { recursive: true });
  await writeFileAtomic(cloneStateFile(root), `${JSON.stringify(state)}\n`);
}

export async function clearCloneState(root: string): Promise<void> {
  await rm(cloneStateFile(root), { force: true });
}
