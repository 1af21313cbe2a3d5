import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { writeFileAtomic } from "./atomic-file.ts";

/**
 * Every path the agent does not sync, with the reason, as the last round left them: kept in
 * `.git/cloudbridge/refused.json` (replaced atomically after each round) so `cloudbridge status` — or any
 * program — can list them without running a round. A path is listed at every round until it is fixed
 * (renamed, made readable, the link changed, the folder made writable); then it disappears.
 *
 * - `not-uploaded`: on this machine, not committed nor uploaded (unreadable, a name no other machine can
 *   hold, a symlink leading outside the folder, a `.git` below the top);
 * - `refused-from-bucket`: in the shared history, refused here before anything was written (a hostile or
 *   unrepresentable path); it stays in the history and is never written here;
 * - `not-written`: this machine could not write its new version (read-only, no permission); tried again
 *   each round.
 */
export type RefusedKind = "not-uploaded" | "refused-from-bucket" | "not-written";

export interface RefusedPath {
  path: string;
  reason: string;
  kind: RefusedKind;
}

export interface RefusedPaths {
  /** When the round that wrote the record ended (ISO 8601); undefined when no round has run yet. */
  updatedAt: string | undefined;
  paths: RefusedPath[];
}

const FORMAT = 1;

export function refusedPathsFile(stateDir: string): string {
  return join(stateDir, "refused.json");
}

/** The record of the folder at `root` (the work tree), as its last round left it; empty when there is none. */
export async function readRefusedPaths(root: string): Promise<RefusedPaths> {
  return readRecord(join(root, ".git", "cloudbridge"));
}

export async function readRecord(stateDir: string): Promise<RefusedPaths> {
  try {
    const data = JSON.parse(await readFile(refusedPathsFile(stateDir), "utf8")) as {
      format: number;
      updatedAt: string;
      paths: RefusedPath[];
    };
    if (data.format !== FORMAT || !Array.isArray(data.paths)) return { updatedAt: undefined, paths: [] };
    return { updatedAt: data.updatedAt, paths: data.paths };
  } catch {
    return { updatedAt: undefined, paths: [] };
  }
}

export async function writeRecord(stateDir: string, paths: RefusedPath[]): Promise<void> {
  await writeFileAtomic(
    refusedPathsFile(stateDir),
    `${JSON.stringify({ format: FORMAT, updatedAt: new Date().toISOString(), paths }, null, 1)}\n`,
  );
}

/**
 * A scan of some paths (watcher events) sees only those: what an earlier scan refused elsewhere is still
 * refused. The entries under the scanned roots are replaced by what this scan found.
 */
export function mergeScanned(
  previous: ReadonlyArray<{ path: string; reason: string }>,
  roots: ReadonlySet<string> | undefined,
  found: ReadonlyArray<{ path: string; reason: string }>,
): Array<{ path: string; reason: string }> {
  if (!roots) return [...found];
  const under = (path: string) => [...roots].some((root) => root === "" || path === root || path.startsWith(`${root}/`));
  const kept = previous.filter((p) => !under(p.path));
  const seen = new Set(kept.map((p) => p.path));
  return [...kept, ...found.filter((p) => !seen.has(p.path))];
}
