import { createHash, randomBytes } from "node:crypto";
import { closeSync, constants, fstatSync, openSync, readFileSync } from "node:fs";
import { chmod, readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { formatPackIndex, PackWriter, type PackIndexEntry } from "../../gitstore/index.ts";
import { runGit } from "../../localgit/index.ts";

/**
 * Many files' blobs written straight into one pack of the local repository, instead of one loose object
 * each (`hash-object -w`): what an import, or any round that finds thousands of new files, writes. A loose
 * object is a file of its own, created and renamed, which costs more than hashing it; and a hundred thousand
 * of them must later be packed by `git gc` (minutes) and pruned. One pack is one sequential write, read as
 * it is by `pack-objects` when the push builds the bucket's pack. The blobs are the raw bytes of the files,
 * as `hash-object --no-filters` makes them.
 *
 * Crash safety: the pack is written under a temporary name (`tmp_pack_…`, which `git gc` removes if a kill
 * leaves it), made durable, then renamed into place, the pack before its index, so git never sees an index
 * without its pack. Nothing refers to the objects before this returns.
 */

/** A file whose blob could not be made: why (its `code` says: gone, replaced by a link or a folder, unreadable). */
export type BlobFailure = NodeJS.ErrnoException;

const TEMPORARY_PREFIX = "tmp_pack_cloudbridge_";

/** Files yielded to the event loop after, so a daemon keeps answering while it packs. */
const FILES_PER_TURN = 256;

/**
 * Writes the blobs of `paths` (absolute) into a new pack in `gitDir` and returns, in the order given, each
 * file's blob id or why it has none. `onContent` sees each file's bytes as they are read (the scanner looks
 * at the few that may be annex pointers). Never follows a symlink: a file replaced by a link since it was
 * looked at fails with ELOOP, and one replaced by anything but a file with EISDIR or EINVAL.
 */
export async function packFileBlobs(
  gitDir: string,
  paths: readonly string[],
  onContent?: (index: number, content: Buffer) => void,
): Promise<Array<string | BlobFailure>> {
  const { results, pack } = await writePack(gitDir, paths, { durable: true, ...(onContent ? { onContent } : {}) });
  await pack?.place();
  return results;
}

/**
 * Blobs of bytes in memory (symlink targets, annex pointers), in the order given: their ids. From
 * `PACK_AT_LEAST` of them they stay one pack, as files do; fewer are unpacked into loose objects by one
 * `git unpack-objects`, instead of a `hash-object` process each.
 */
export async function writeBlobs(gitDir: string, contents: readonly Buffer[]): Promise<string[]> {
  if (contents.length === 0) return [];
  // Unpacked at once, a few blobs' pack is read back from the page cache: it needs no fsync of its own.
  const { results, pack } = await writePack(gitDir, contents, { durable: contents.length >= PACK_AT_LEAST });
  if (!pack) throw new Error("no blob was written"); // (bytes in memory cannot fail to be read)
  if (contents.length >= PACK_AT_LEAST) await pack.place();
  else {
    try {
      await runGit(["unpack-objects", "-q"], { gitDir, input: await readFile(pack.path) });
    } finally {
      await pack.discard();
    }
  }
  return results as string[];
}

/**
 * From this many blobs, a round writes them as one pack (files: see the scanner); fewer are loose
 * objects, which git packs with the rest later (a pack per round of a few files would leave many packs).
 */
export const PACK_AT_LEAST = 1000;

/** A pack written under its temporary name: `place` puts it where git reads it, `discard` removes it. */
interface WrittenPack {
  readonly path: string;
  place(): Promise<void>;
  discard(): Promise<void>;
}

/**
 * Writes a pack of these blobs (a path is a file to read; bytes are the blob) under a temporary name, and
 * says each one's id or why it has none; no pack when none could be read.
 */
async function writePack(
  gitDir: string,
  sources: ReadonlyArray<string | Buffer>,
  options: { durable: boolean; onContent?: (index: number, content: Buffer) => void },
): Promise<{ results: Array<string | BlobFailure>; pack?: WrittenPack }> {
  const packDir = join(gitDir, "objects", "pack");
  const temporary = join(packDir, `${TEMPORARY_PREFIX}${randomBytes(8).toString("hex")}`);
  const results: Array<string | BlobFailure> = [];
  const written = new Map<string, PackIndexEntry>();
  const discard = async () => {
    await rm(`${temporary}.pack`, { force: true });
    await rm(`${temporary}.idx`, { force: true });
  };
  const writer = await PackWriter.create(`${temporary}.pack`, sources.length);
  try {
    for (let i = 0; i < sources.length; i++) {
      const source = sources[i]!;
      let content: Buffer;
      try {
        content = typeof source === "string" ? readRegularFile(source) : source;
      } catch (error) {
        results.push(error as BlobFailure);
        continue;
      }
      options.onContent?.(i, content);
      const oid = createHash("sha1").update(`blob ${content.length}\0`).update(content).digest("hex");
      results.push(oid);
      if (!written.has(oid)) {
        const offset = await writer.whole("blob", content);
        written.set(oid, { oid, offset, crc32: writer.entries.at(-1)!.crc32 });
      }
      if (i % FILES_PER_TURN === FILES_PER_TURN - 1) await new Promise(setImmediate);
    }
    if (written.size === 0) {
      await writer.abandon();
      await discard();
      return { results };
    }
    const checksum = await writer.finishAsWritten({ durable: options.durable });
    const place = async () => {
      try {
        await writeFile(`${temporary}.idx`, formatPackIndex([...written.values()], checksum), { flush: true });
        const name = join(packDir, `pack-${checksum}`);
        // Read-only, as git makes its packs; the pack first, then the index that makes git look in it.
        await chmod(`${temporary}.pack`, 0o444);
        await chmod(`${temporary}.idx`, 0o444);
        await rename(`${temporary}.pack`, `${name}.pack`);
        await rename(`${temporary}.idx`, `${name}.idx`);
      } catch (error) {
        await discard();
        throw error;
      }
    };
    return { results, pack: { path: `${temporary}.pack`, place, discard } };
  } catch (error) {
    await writer.abandon();
    await discard();
    throw error;
  }
}

/** A regular file's bytes, read through a descriptor that did not follow a symlink and is a file. */
function readRegularFile(path: string): Buffer {
  const fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  try {
    if (!fstatSync(fd).isFile()) throw Object.assign(new Error(`${path} is no longer a file`), { code: "EINVAL", path });
    return readFileSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * Removes the temporary packs a killed process left (their objects were never referred to: the next scan
 * hashes those files again). Only while holding the folder, where no other cloudbridge process packs.
 */
export async function removeLeftoverPacks(gitDir: string): Promise<void> {
  const packDir = join(gitDir, "objects", "pack");
  const names = await readdir(packDir).catch(() => [] as string[]);
  await Promise.all(names.filter((name) => name.startsWith(TEMPORARY_PREFIX)).map((name) => rm(join(packDir, name), { force: true })));
}
