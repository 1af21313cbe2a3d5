import { createHash } from "node:crypto";
import { chmod, copyFile, link, lstat, mkdir, readdir, rename, rm, rmdir, stat } from "node:fs/promises";
import { constants } from "node:fs";
import { basename, dirname, join } from "node:path";
import { assertAnnexKey, hashDirMixed, parseAnnexKey, sha256eKey } from "../../protocol/index.ts";
import { hashFile } from "./content-hash.ts";

export const md5 = (text: string): Uint8Array => createHash("md5").update(text).digest();

/**
 * The local object store, where git-annex keeps content: `.git/annex/objects/<hashdirmixed>/<KEY>/<KEY>`,
 * read-only files, so real git-annex run in the same repository sees the content as present. Content only
 * enters it by rename from `.git/annex/tmp/` after it was verified, so a key's path never holds a partial
 * or wrong file.
 */
export class LocalStore {
  readonly gitDir: string;

  constructor(gitDir: string) {
    this.gitDir = gitDir;
  }

  get objectsDir(): string {
    return join(this.gitDir, "annex", "objects");
  }

  get tmpDir(): string {
    return join(this.gitDir, "annex", "tmp");
  }

  objectPath(key: string): string {
    assertAnnexKey(key);
    return join(this.objectsDir, hashDirMixed(key, md5), key, key);
  }

  /** Where a transfer of `key` writes before the content is verified (git-annex uses the same place). */
  tmpPath(key: string): string {
    return join(this.tmpDir, assertAnnexKey(key));
  }

  /**
   * Where a download writes a second copy of the bytes as they arrive (beside `tmpPath`), so the file put
   * in the work tree afterwards is that copy, renamed, instead of a copy made from the store once the
   * download is over (a second write of the whole file, on file systems without reflinks).
   */
  sparePath(key: string): string {
    return `${this.tmpPath(key)}.spare`;
  }

  /** Spares this process wrote whole and whose content was verified (a spare on disk is trusted only then). */
  private readonly spares = new Set<string>();

  /** The download verified the content the spare holds: it may stand in for a copy from the store. */
  spareVerified(key: string): void {
    this.spares.add(key);
  }

  /** Moves the verified spare of `key` to `path`, which must not exist, if there is one; false otherwise. */
  async takeSpare(key: string, path: string): Promise<boolean> {
    if (!this.spares.delete(key)) return false;
    // A link and an unlink: a rename would replace a file already at `path`, which a copy never does.
    const failure = await link(this.sparePath(key), path).then(
      () => undefined,
      (error: NodeJS.ErrnoException) => error,
    );
    await rm(this.sparePath(key), { force: true });
    if (failure?.code === "EEXIST") throw failure;
    return failure === undefined;
  }

  /** Removes the spare of `key` (none left behind once its file was placed, or could not be). */
  async dropSpare(key: string): Promise<void> {
    this.spares.delete(key);
    await rm(this.sparePath(key), { force: true });
  }

  /** Whether the content is here (a file of the key's size; fsck re-hashes, this does not). */
  async has(key: string): Promise<boolean> {
    try {
      const info = await stat(this.objectPath(key));
      const size = parseAnnexKey(key).size;
      return info.isFile() && (size === undefined || info.size === size);
    } catch {
      return false;
    }
  }

  /** Moves a verified file into place (same file system: an atomic rename). */
  async insertVerified(key: string, verifiedPath: string): Promise<void> {
    const path = this.objectPath(key);
    await mkdir(dirname(path), { recursive: true });
    await chmod(verifiedPath, 0o444);
    await rename(verifiedPath, path);
  }

  /**
   * Hashes a work-tree file into a SHA256E key named like it and puts a copy in the store. Returns the key;
   * the file is not changed. The copy is the kernel's (a reflink, sharing the blocks, where the file system
   * can: btrfs, XFS; an in-kernel copy elsewhere), made while this thread hashes the file, so adding a large
   * file costs one read of it, not a read and a write through JavaScript.
   */
  async ingest(file: string): Promise<string> {
    await mkdir(this.tmpDir, { recursive: true });
    const tmp = join(this.tmpDir, `ingest.${process.pid}.${Date.now()}.${Math.random().toString(36).slice(2)}`);
    const before = await stat(file);
    try {
      const [{ hex, size }] = await Promise.all([
        hashFile(file),
        copyFile(file, tmp, constants.COPYFILE_EXCL | constants.COPYFILE_FICLONE),
      ]);
      const [after, copied] = await Promise.all([stat(file), stat(tmp)]);
      // A write during the hash or the copy shows in the file's size or time: the two passes may have read different bytes.
      if (after.size !== size || copied.size !== size || after.mtimeMs !== before.mtimeMs || after.ctimeMs !== before.ctimeMs) {
        throw new Error(`${file} changed while it was being added; add it again once it is written.`);
      }
      const key = sha256eKey(hex, size, basename(file));
      if (await this.has(key)) await rm(tmp, { force: true });
      else await this.insertVerified(key, tmp);
      return key;
    } catch (error) {
      await rm(tmp, { force: true });
      throw error;
    }
  }

  /**
   * Copies the content of `key` to `path`, a file that must not exist yet; false when the content is not
   * here. A reflink (no second copy of the blocks) where the file system can, an in-kernel copy elsewhere.
   */
  async copyTo(key: string, path: string, mode = 0o644): Promise<boolean> {
    if (!(await this.has(key))) return false;
    try {
      if (!(await this.takeSpare(key, path)))
        await copyFile(this.objectPath(key), path, constants.COPYFILE_EXCL | constants.COPYFILE_FICLONE);
      await chmod(path, mode);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") await rm(path, { force: true });
      throw error;
    }
    return true;
  }

  /** Removes the content (git-annex's dirs may be write-protected: open them up first). */
  async remove(key: string): Promise<void> {
    const path = this.objectPath(key);
    const keyDir = dirname(path);
    await chmod(keyDir, 0o755).catch(() => {});
    await rm(path, { force: true });
    for (const dir of [keyDir, dirname(keyDir), dirname(dirname(keyDir))]) {
      if (
        !(await rmdir(dir).then(
          () => true,
          () => false,
        ))
      )
        break;
    }
  }

  /** Every key with content here. */
  async *keys(): AsyncIterable<string> {
    const top = await readdir(this.objectsDir).catch(() => [] as string[]);
    for (const a of top.sort()) {
      for (const b of (await readdir(join(this.objectsDir, a)).catch(() => [] as string[])).sort()) {
        for (const key of (await readdir(join(this.objectsDir, a, b)).catch(() => [] as string[])).sort()) {
          const file = join(this.objectsDir, a, b, key, key);
          if ((await lstat(file).catch(() => undefined))?.isFile()) yield key;
        }
      }
    }
  }
}
