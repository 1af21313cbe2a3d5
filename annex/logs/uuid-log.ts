import { assertAgentId } from "../../protocol/index.ts";
import { formatVectorClock, parseVectorClock, type VectorClock } from "./vector-clock.ts";

/**
 * `uuid.log` in the git-annex branch: one line per repository, `<uuid> <description> timestamp=<clock>`,
 * the newest line per uuid wins (Logs/UUID.hs). Lines from very old git-annex have no timestamp.
 */
export interface UuidEntry {
  readonly uuid: string;
  readonly description: string;
  readonly clock: VectorClock;
}

export function parseUuidLog(text: string): Map<string, UuidEntry> {
  const entries = new Map<string, UuidEntry>();
  for (const line of text.split("\n")) {
    const words = line.trim().split(" ");
    const uuid = words.shift();
    if (!uuid || !isUuid(uuid)) continue;
    let clock = 0n;
    const last = words.at(-1);
    if (last?.startsWith("timestamp=")) {
      clock = parseVectorClock(last.slice("timestamp=".length)) ?? 0n;
      words.pop();
    }
    const previous = entries.get(uuid);
    if (!previous || clock >= previous.clock) entries.set(uuid, { uuid, description: words.join(" "), clock });
  }
  return entries;
}

export function formatUuidLine(entry: UuidEntry): string {
  assertAgentId(entry.uuid);
  const description = entry.description.replace(/[\r\n]+/g, " ");
  return `${entry.uuid} ${description} timestamp=${formatVectorClock(entry.clock)}\n`;
}

/** The log with `entry` recorded: the newest entry per uuid, one line each (git-annex compacts the same way). */
export function formatUuidLog(entries: Iterable<UuidEntry>): string {
  return [...entries].map(formatUuidLine).join("");
}

function isUuid(text: string): boolean {
  return /^[0-9a-fA-F-]{36}$/.test(text);
}
