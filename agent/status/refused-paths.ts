import type { SyncReport } from "../sync/engine.ts";

/**
 * A path the folder does not sync, and why: a local file not uploaded (a symlink leading outside, a name
 * other machines cannot hold, a `.git` below the top…), a path from the bucket that was refused, or one
 * this machine could not write. `status` lists them; whoever records them (the daemon's rounds, the
 * scanner, a per-folder record of every round) is read through `RefusedPathSource`, so a new record plugs
 * in without changing `status`. The kinds are the ones that per-folder record uses.
 */
export interface RefusedPath {
  path: string;
  reason: string;
  /** not-uploaded: here, never sent; refused-from-bucket: from the bucket, never written; not-written: this machine could not write it. */
  kind: "not-uploaded" | "refused-from-bucket" | "not-written";
}

/** Somewhere refused paths are recorded for a folder. */
export interface RefusedPathSource {
  read(root: string): Promise<RefusedPath[]>;
}

/** The refused paths a sync round reported. */
export function refusedIn(report: Pick<SyncReport, "notUploaded" | "refused" | "unwritable">): RefusedPath[] {
  return [
    ...report.notUploaded.map((r) => ({ path: r.path, reason: r.reason, kind: "not-uploaded" as const })),
    ...report.refused.map((r) => ({ path: r.path, reason: r.reason, kind: "refused-from-bucket" as const })),
    ...report.unwritable.map((r) => ({ path: r.path, reason: r.reason, kind: "not-written" as const })),
  ];
}

/** Several records as one list: the first record of a path and kind wins. */
export function mergeRefused(...lists: ReadonlyArray<readonly RefusedPath[]>): RefusedPath[] {
  const seen = new Map<string, RefusedPath>();
  for (const list of lists) for (const r of list) if (!seen.has(`${r.kind}\0${r.path}`)) seen.set(`${r.kind}\0${r.path}`, r);
  return [...seen.values()];
}
