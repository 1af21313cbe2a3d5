import { join } from "node:path";
import type { GitEngine } from "./engine.ts";
import { GitStoreError } from "./errors.ts";
import { mapLimit } from "../objectstore/index.ts";

/**
 * Checks and indexes the packs `names` downloaded into `objectDir/pack/`, so that the verdict on a pack
 * never depends on which other pack holds a blob. git's checks read the content of every .gitattributes
 * and .gitmodules blob a tree names (hostile content is refused), and refuse a pack when such a blob
 * cannot be read at all — yet an incremental pack rightly lacks the blobs an earlier push uploaded. So:
 *
 * 1. every pack is checked with the other packs of this fetch readable (`objectDir`) as well as the
 *    repository; a pack that only lacked such blobs waits;
 * 2. the waiting ones are checked again once the others are indexed (and readable), while that helps;
 * 3. packs that still wait (they need each other's blobs, or a blob is nowhere) are made readable without
 *    the content checks, then checked again with everything readable. A blob found nowhere cannot be
 *    checked and cannot be checked out either: if a commit needs it, the connectivity check refuses it.
 */
export async function indexPacks(engine: GitEngine, gitDir: string, objectDir: string, names: readonly string[]): Promise<void> {
  const check = async (name: string, options: { fsck?: boolean } = {}): Promise<boolean> => {
    try {
      const indexed = await engine.indexPack(gitDir, join(objectDir, "pack", `${name}.pack`), { objectDir, ...options });
      if (indexed.name !== name) throw new GitStoreError("corrupt-pack", `The pack ${name} is named after another checksum.`);
      return true;
    } catch (error) {
      if (error instanceof GitStoreError && error.code === "blobs-outside-pack") return false;
      throw error;
    }
  };
  let waiting = [...names];
  for (;;) {
    const before = waiting.length;
    const results = await mapLimit(waiting, 2, (name) => check(name));
    waiting = waiting.filter((_, i) => !results[i]);
    if (waiting.length === 0) return;
    if (waiting.length === before) break;
  }
  for (const name of waiting) await check(name, { fsck: false });
  for (const name of waiting) await check(name); // a blob found nowhere: nothing left to check it against
}
