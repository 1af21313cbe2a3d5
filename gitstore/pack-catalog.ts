import { randomBytes } from "node:crypto";
import { copyFile, mkdir, open, readdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { PACK_BASE_NAME, parsePackIndex } from "./pack-format.ts";
import { MAX_FOLD_BYTES, type SizedPack } from "./pack-geometry.ts";

/**
 * The bucket's packs this machine knows the content of: a copy of the index of each pack it uploaded or
 * downloaded, `.git/cloudbridge/bucket-packs/<pack>.idx`, and its size (`<pack>.bytes`, pack and index),
 * kept while objects/info/packs lists the pack; packs larger than a push ever folds are not kept.
 * Every object of such a pack is in the local repository (it was packed from it, or fetched into it), so
 * a push can fold the pack into its own (pack-geometry.ts) without downloading anything. It is only a
 * cache: a missing or stale entry means a pack is not folded by this machine, never a wrong pack list
 * (a fold packs the objects the index names, and fails when one is not here).
 */
export async function rememberPackIndex(gitDir: string, pack: { name: string; idxPath: string; packPath: string }): Promise<void> {
  if (!PACK_BASE_NAME.test(pack.name)) return;
  const [packInfo, idxInfo] = await Promise.all([stat(pack.packPath), stat(pack.idxPath)]);
  const bytes = packInfo.size + idxInfo.size;
  if (bytes > MAX_FOLD_BYTES) return; // never folded: no need to know it
  const dir = catalogDir(gitDir);
  await mkdir(dir, { recursive: true });
  // A copy, not a link: git's own index of a fetched pack must never share a file with anything else.
  // The copy keeps git's mode (0444), so it is made beside and renamed over an earlier one: copying onto
  // a read-only file fails for anyone but root (a pack is remembered again when a fetch downloads a pack
  // this machine pushed, which it does when its packs-seen record was lost).
  // A copy cut short stays under its temporary name, which `forgetPacks` removes as it names no pack.
  const idx = join(dir, `${pack.name}.idx`);
  const partial = `${idx}.${randomBytes(6).toString("hex")}.tmp`;
  try {
    await copyFile(pack.idxPath, partial);
    await rename(partial, idx);
  } catch (error) {
    // Only a failed copy or rename leaves the temporary (renamed, it is gone): as writeLooseObject does.
    await rm(partial, { force: true });
    throw error;
  }
  await writeFile(join(dir, `${pack.name}.bytes`), `${bytes}\n`);
}

/** Of `live` (objects/info/packs), those this machine knows, with their object counts (each index's fan-out table) and bytes. */
export async function knownPacks(gitDir: string, live: readonly string[]): Promise<SizedPack[]> {
  // All read at once: a push waits for them once git has made its pack, and the list holds about log₂ of
  // the objects (pack-geometry.ts), a dozen files or two, each a small read.
  const sized = await Promise.all(
    live.map(async (name) => {
      const [objects, bytes] = await Promise.all([
        objectCount(join(catalogDir(gitDir), `${name}.idx`)),
        readFile(join(catalogDir(gitDir), `${name}.bytes`), "utf8").then(Number, () => NaN),
      ]);
      return objects !== undefined && Number.isSafeInteger(bytes) && bytes > 0 ? [{ name, objects, bytes }] : [];
    }),
  );
  return sized.flat();
}

/** The object ids of known pack `name` (its index checked). */
export async function packObjectIds(gitDir: string, name: string): Promise<string[]> {
  return parsePackIndex(await readFile(join(catalogDir(gitDir), `${name}.idx`)), `${name}.idx`).oids;
}

/** Forgets every pack but those of `keep` (the list as last read or written), or only those of `drop`. */
export async function forgetPacks(gitDir: string, which: { keep: readonly string[] } | { drop: readonly string[] }): Promise<void> {
  const names = await readdir(catalogDir(gitDir)).catch(() => [] as string[]);
  const keep = "keep" in which ? new Set(which.keep) : undefined;
  const drop = "drop" in which ? new Set(which.drop) : undefined;
  for (const file of names) {
    const name = file.replace(/\.(idx|bytes)$/, "");
    if (keep ? !keep.has(name) : drop!.has(name)) await rm(join(catalogDir(gitDir), file), { force: true });
  }
}

function catalogDir(gitDir: string): string {
  return join(gitDir, "cloudbridge", "bucket-packs");
}

/** The object count of a version-2 index (the last fan-out entry), or undefined when there is none. */
async function objectCount(path: string): Promise<number | undefined> {
  const handle = await open(path, "r").catch(() => undefined);
  if (!handle) return undefined;
  try {
    const head = Buffer.alloc(8 + 256 * 4);
    const { bytesRead } = await handle.read(head, 0, head.length, 0);
    if (bytesRead < head.length || head.readUInt32BE(0) !== 0xff744f63 || head.readUInt32BE(4) !== 2) return undefined;
    return head.readUInt32BE(8 + 255 * 4);
  } finally {
    await handle.close();
  }
}
