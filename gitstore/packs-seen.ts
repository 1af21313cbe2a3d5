import { appendFile, mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";

/**
 * `.git/cloudbridge/packs-seen`: the bucket's packs whose objects this repository holds, one name a line,
 * because it downloaded them or because it pushed them (it packed them from its own objects). A fetch does
 * not download them again, though their objects are here under other packs' names (git gc repacked them,
 * or they were never in a pack here). Only a live pack is ever
 * asked about, so only live packs are kept: a name the bucket no longer lists (compaction retired it) is
 * dropped when packs are next recorded. The file is bounded by the bucket's pack list (which compaction
 * bounds), not by every push the folder ever received. It is only a shortcut: a name missing from it costs
 * at most one download of a pack whose objects are here.
 */
const SEEN = ["cloudbridge", "packs-seen"];

export async function readSeenPacks(gitDir: string): Promise<Set<string>> {
  const text = await readFile(join(gitDir, ...SEEN), "utf8").catch(() => "");
  return new Set(text.split("\n").filter(Boolean));
}

/** Adds `names` (just moved into the repository, or pushed from it); rewrites the file without the packs `live` no longer lists, when it has any. */
export async function recordSeenPacks(
  gitDir: string,
  names: readonly string[],
  { seen, live }: { seen: ReadonlySet<string>; live: readonly string[] },
): Promise<void> {
  if (names.length === 0) return;
  const file = join(gitDir, ...SEEN);
  await mkdir(join(gitDir, SEEN[0]!), { recursive: true });
  const listed = new Set(live);
  if ([...seen].every((name) => listed.has(name))) {
    await appendFile(file, names.map((name) => `${name}\n`).join(""));
    return;
  }
  // Written over in place, with no temporary file a kill could leave behind: a list read or left part-written
  // (or a name another process appended meanwhile, lost) costs a download again at worst, since a cut name
  // matches no pack.
  const kept = [...new Set([...[...seen].filter((name) => listed.has(name)), ...names])];
  await writeFile(file, kept.map((name) => `${name}\n`).join(""));
}
