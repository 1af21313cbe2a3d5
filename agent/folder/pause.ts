import { readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { writeFileAtomic } from "../sync/atomic-file.ts";

/**
 * Whether a folder is paused: `.git/cloudbridge/paused` exists (JSON: since when, why). The state lives in
 * the folder, so it survives a restart of the daemon and every process sees the same answer; a paused
 * folder's daemon commits, pushes and pulls nothing, and `resume` (which removes the file) lets it catch
 * up with one full round.
 */
export interface PauseState {
  since: string;
}

export const PAUSE_FILE = "paused";

export function pauseFile(root: string): string {
  return join(root, ".git", "cloudbridge", PAUSE_FILE);
}

export async function readPause(root: string): Promise<PauseState | undefined> {
  try {
    const state = JSON.parse(await readFile(pauseFile(root), "utf8")) as Partial<PauseState>;
    return { since: typeof state.since === "string" ? state.since : "" };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    // A damaged file still says "paused": the person asked for it, and resume removes it.
    return { since: "" };
  }
}

/** Pauses the folder (again: keeps the first time). */
export async function pauseFolder(root: string): Promise<PauseState> {
  const existing = await readPause(root);
  if (existing) return existing;
  const state: PauseState = { since: new Date().toISOString() };
  await writeFileAtomic(pauseFile(root), `${JSON.stringify(state)}\n`);
  return state;
}

/** Resumes the folder; false when it was not paused. */
export async function resumeFolder(root: string): Promise<boolean> {
  const existing = await readPause(root);
  await rm(pauseFile(root), { force: true });
  return existing !== undefined;
}
