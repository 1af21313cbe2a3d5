import type { BlobReader } from "../../localgit/index.ts";
import type { AnnexBranch, FileChange } from "./annex-branch.ts";
import { md5 } from "../content/local-store.ts";
import { formatLocationLog, locationLogPath, parseLocationLog, presentUuids, type LocationEntry } from "./location-log.ts";
import { nextVectorClock } from "./vector-clock.ts";

/** A change of where content is: `uuid` now has (true) or no longer has (false) `key`. */
export interface PresenceChange {
  readonly key: string;
  readonly uuid: string;
  readonly present: boolean;
}

/**
 * Records presence changes in the git-annex branch as one commit (many keys at once after a batch of
 * transfers). Each key's log is rewritten compacted (newest line per uuid), as git-annex does. `reader`:
 * see AnnexBranch.change.
 */
export async function recordPresence(
  branch: AnnexBranch,
  changes: readonly PresenceChange[],
  message = "update location logs",
  reader?: BlobReader,
): Promise<void> {
  const byPath = new Map<string, PresenceChange[]>();
  for (const change of changes) {
    const path = locationLogPath(change.key, md5);
    byPath.set(path, [...(byPath.get(path) ?? []), change]);
  }
  const edits = new Map<string, FileChange>();
  for (const [path, pathChanges] of byPath) {
    edits.set(path, (old) => {
      const entries = parseLocationLog(old ?? "");
      let changed = false;
      for (const change of pathChanges) {
        const previous = entries.get(change.uuid);
        const status = change.present ? "1" : "0";
        if (previous?.status === status) continue;
        entries.set(change.uuid, { clock: nextVectorClock(previous?.clock), status, uuid: change.uuid });
        changed = true;
      }
      return changed ? formatLocationLog(entries.values()) : undefined;
    });
  }
  await branch.change(message, edits, reader);
}

export async function readLocations(branch: AnnexBranch, key: string): Promise<Map<string, LocationEntry>> {
  return parseLocationLog((await branch.read(locationLogPath(key, md5))) ?? "");
}

/** The uuids the location log says have `key`. */
export async function whereIs(branch: AnnexBranch, key: string): Promise<string[]> {
  return presentUuids(await readLocations(branch, key));
}
