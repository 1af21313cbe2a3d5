import { GitStoreError } from "./errors.ts";
import { PACK_BASE_NAME } from "./pack-format.ts";

/**
 * `objects/info/cloudbridge-retired-packs`: packs compaction took out of objects/info/packs, each with
 * the time it did so, one `<pack-name> <ISO time>` per line. A retired pack stays in the bucket for a
 * grace period, so a reader that listed it a moment earlier still finds it; then it is deleted.
 */
export function parseRetiredPacks(body: Buffer | string, key: string): Map<string, Date> {
  const retired = new Map<string, Date>();
  for (const line of body.toString().split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const [name, when, extra] = line.split(" ");
    const at = new Date(when ?? "");
    // Only the time Date.toISOString writes: Date also reads "1" or "+0" (years 2001 and 0), which would
    // have a pack deleted long before its grace period ends.
    const iso = !Number.isNaN(at.getTime()) && at.toISOString() === when;
    if (!name || !PACK_BASE_NAME.test(name) || !iso || extra !== undefined) {
      throw new GitStoreError(
        "corrupt-pack",
        `${key} has a line that is not "<pack-name> <ISO time>": ${JSON.stringify(line.slice(0, 80))}. ` +
          "Delete the file: the next compaction rebuilds it (packs not listed in objects/info/packs are retired again).",
      );
    }
    retired.set(name, at);
  }
  return retired;
}

const HEADER = "# Packs retired by cloudbridge compaction, deleted after a grace period: <pack> <retired at>\n";

export function writeRetiredPacks(retired: ReadonlyMap<string, Date>): string {
  return HEADER + [...retired].map(([name, at]) => `${name} ${at.toISOString()}\n`).join("");
}
