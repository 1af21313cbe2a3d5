import { hashDirLower, type Md5 } from "../../protocol/index.ts";
import { readUuid } from "./uuid-log.ts";
import { formatVectorClock, parseVectorClock, type VectorClock } from "./vector-clock.ts";

/**
 * A key's location log in the git-annex branch, `<hashdirlower><KEY>.log` (Logs/Location.hs): lines
 * `<clock> <1|0|X> <uuid>`, 1 = the repository has the content, 0 = it does not, X = dead. The newest line
 * per uuid is the truth; a union of two logs therefore merges them.
 */
export interface LocationEntry {
  readonly clock: VectorClock;
  readonly status: "1" | "0" | "X";
  readonly uuid: string;
}

export function locationLogPath(key: string, md5: Md5): string {
  return `${hashDirLower(key, md5)}${key}.log`;
}

/** The newest entry per uuid. */
export function parseLocationLog(text: string): Map<string, LocationEntry> {
  const entries = new Map<string, LocationEntry>();
  for (const line of text.split("\n")) {
    const match = /^(\S+) ([10X]) ([0-9a-fA-F-]{36})$/.exec(line.trim());
    if (!match) continue;
    const clock = parseVectorClock(match[1]!);
    const uuid = readUuid(match[3]!);
    if (clock === undefined || uuid === undefined) continue;
    const entry: LocationEntry = { clock, status: match[2] as LocationEntry["status"], uuid };
    const previous = entries.get(entry.uuid);
    if (!previous || clock >= previous.clock) entries.set(entry.uuid, entry);
  }
  return entries;
}

export function formatLocationLog(entries: Iterable<LocationEntry>): string {
  return [...entries].map((e) => `${formatVectorClock(e.clock)} ${e.status} ${e.uuid}\n`).join("");
}

/** The uuids whose newest entry says they have the content. */
export function presentUuids(entries: Map<string, LocationEntry>): string[] {
  return [...entries.values()].filter((e) => e.status === "1").map((e) => e.uuid);
}
