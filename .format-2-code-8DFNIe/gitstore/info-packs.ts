import { PACK_BASE_NAME } from "./pack-format.ts";
import { GitStoreError } from "./errors.ts";

/**
 * `objects/info/packs`, the dumb-HTTP list of packs (what `git update-server-info` writes):
 * one `P pack-<sha>.pack` line per pack, then an empty line. Our readers also use it as the list of live
 * packs: compaction removes a pack from here before it deletes it, after a grace period.
 */
export function parseInfoPacks(body: Buffer | string, key: string): string[] {
  const names = new Set<string>(); // a Set: a list's includes() made a 2.6 MB file cost 70 s
  for (const line of body.toString().split("\n")) {
    if (line === "") continue;
    const match = /^P (pack-[0-9a-f]{40})\.pack$/.exec(line);
    if (!match || !PACK_BASE_NAME.test(match[1]!)) {
      throw new GitStoreError(
        "corrupt-pack",
        `${key} has a line that is not "P pack-<sha>.pack": ${JSON.stringify(line.slice(0, 80))}. ` +
          "Rewrite it (one line per pack under objects/pack/) or run `cloudbridge compact`, which rewrites it.",
      );
    }
    names.add(match[1]!);
  }
  return [...names];
}

export function writeInfoPacks(names: readonly string[]): string {
  return `${names.map((name) => `P ${name}.pack\n`).join("")}\n`;
}
