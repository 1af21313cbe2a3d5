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
    const uuid = readUuid(words.shift() ?? "");
    if (!uuid) continue;
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

/**
 * A repository uuid as the logs' writers accept it (lower case, 8-4-4-4-12), or undefined: a line whose uuid
 * could not be written back is skipped, so rewriting a log never fails on a line someone else wrote.
 */
export function readUuid(text: string): string | undefined {
  const uuid = text.toLowerCase();
  return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(uuid) ? uuid : undefined;
}
