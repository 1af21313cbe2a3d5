import { createHash, type Hash } from "node:crypto";
import { createReadStream } from "node:fs";
import { open, type FileHandle } from "node:fs/promises";
import type { ObjectType } from "./object-format.ts";

/**
 * Node's zlib, loaded at its first use rather than with this module: ~1.6 ms of CPU off the start of a
 * short-lived process (the remote helper, whose first use comes while git makes its pack).
 */
const zlib = () => process.getBuiltinModule("node:zlib");

/**
 * Writes a git pack (version 2) entry by entry to a file, without holding it in memory: the header with
 * the object count, then each object whole or as a delta against an entry written before it (OFS_DELTA,
 * the base named by its distance back, as `pack-objects --delta-base-offset` writes), each zlib-deflated,
 * then the SHA-1 of all of it. A pack is named after that checksum (`pack-<checksum>`). Each entry's offset
 * and CRC-32 are kept for its index (formatPackIndex in pack-format.ts). Bytes go to the file in chunks of
 * about a MiB: a write per entry costs more than the entry when objects are small.
 */
const TYPE_CODE: Record<ObjectType, number> = { commit: 1, tree: 2, blob: 3, tag: 4 };
const OFS_DELTA = 6;

/** Bytes gathered before one write to the file. */
const WRITE_CHUNK = 1024 * 1024;

export class PackWriter {
  /** Where the next entry starts. */
  offset = 0;
  /** Each entry written, in order: where it starts and the CRC-32 of its bytes (what a version-2 index records). */
  readonly entries: Array<{ offset: number; crc32: number }> = [];
  private written = 0;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private readonly hash: Hash = createHash("sha1");
  private readonly file: FileHandle;
  private readonly count: number;

  private constructor(file: FileHandle, count: number) {
    this.file = file;
    this.count = count;
  }

  static async create(path: string, count: number): Promise<PackWriter> {
    const writer = new PackWriter(await open(path, "wx+"), count);
    const header = Buffer.alloc(12);
    header.write("PACK", 0, "latin1");
    header.writeUInt32BE(2, 4);
    header.writeUInt32BE(count, 8);
    await writer.write(header);
    return writer;
  }

  /** Writes an object whole; returns the offset of its entry (what a delta against it names). */
  async whole(type: ObjectType, content: Uint8Array): Promise<number> {
    return this.entry(TYPE_CODE[type], content.length, [], content);
  }

  /** Writes an object as `delta` (delta-format.ts) against the entry at `baseOffset`; returns its offset. */
  async delta(baseOffset: number, delta: Uint8Array): Promise<number> {
    if (baseOffset >= this.offset) throw new Error(`a delta's base must be written before it (${baseOffset} ≥ ${this.offset})`);
    return this.entry(OFS_DELTA, delta.length, baseDistance(this.offset - baseOffset), delta);
  }

  /**
   * Writes the checksum and closes the file; returns the checksum (hex). `durable`: the file is on the disk
   * (fsync) before this returns, as git makes its packs before it renames them where readers find them.
   */
  async finish(options: { durable?: boolean } = {}): Promise<string> {
    try {
      if (this.written !== this.count) throw new Error(`the pack announces ${this.count} objects but ${this.written} were written`);
      await this.flush();
      const checksum = this.hash.digest();
      await this.file.write(checksum);
      if (options.durable) await this.file.sync();
      return checksum.toString("hex");
    } finally {
      await this.file.close();
    }
  }

  /**
   * For a writer created with the most objects it might write (some turned out to be duplicates, or could
   * not be read): the header is given the count actually written and the checksum is computed again over
   * the file (read back once). Then as `finish`.
   */
  async finishAsWritten(options: { durable?: boolean } = {}): Promise<string> {
    if (this.written === this.count) return this.finish(options);
    try {
      if (this.written > this.count) throw new Error(`the pack announces ${this.count} objects but ${this.written} were written`);
      await this.flush();
      const count = Buffer.alloc(4);
      count.writeUInt32BE(this.written);
      await this.file.write(count, 0, 4, 8);
      const hash = createHash("sha1");
      for await (const chunk of createReadStream("", { fd: this.file, autoClose: false, start: 0, end: this.offset - 1 }))
        hash.update(chunk as Buffer);
      const checksum = hash.digest();
      await this.file.write(checksum, 0, 20, this.offset);
      if (options.durable) await this.file.sync();
      return checksum.toString("hex");
    } finally {
      await this.file.close();
    }
  }

  /** Closes the file after a failure (the caller removes it). */
  async abandon(): Promise<void> {
    await this.file.close().catch(() => {});
  }

  private async entry(typeCode: number, size: number, extra: number[], data: Uint8Array): Promise<number> {
    const at = this.offset;
    // The entry header: type and size, 4 bits of size in the first byte, then 7 a byte, high bit = more.
    const header: number[] = [];
    let byte = (typeCode << 4) | (size & 0x0f);
    let rest = Math.floor(size / 16);
    while (rest > 0) {
      header.push(byte | 0x80);
      byte = rest & 0x7f;
      rest = Math.floor(rest / 128);
    }
    header.push(byte);
    const head = Buffer.from([...header, ...extra]);
    const body = zlib().deflateSync(data);
    this.entries.push({ offset: at, crc32: zlib().crc32(body, zlib().crc32(head)) });
    await this.write(head);
    await this.write(body);
    this.written++;
    return at;
  }

  private async write(bytes: Buffer) {
    this.hash.update(bytes);
    this.pending.push(bytes);
    this.pendingBytes += bytes.length;
    this.offset += bytes.length;
    if (this.pendingBytes >= WRITE_CHUNK) await this.flush();
  }

  private async flush() {
    if (this.pendingBytes === 0) return;
    const bytes = Buffer.concat(this.pending, this.pendingBytes);
    this.pending = [];
    this.pendingBytes = 0;
    await this.file.write(bytes);
  }
}

/** git's encoding of an OFS_DELTA's distance back to its base: big-endian 7 bits a byte, each but the last one less. */
function baseDistance(distance: number): number[] {
  const bytes = [distance & 0x7f];
  let rest = Math.floor(distance / 128);
  while (rest > 0) {
    rest -= 1;
    bytes.unshift(0x80 | (rest & 0x7f));
    rest = Math.floor(rest / 128);
  }
  return bytes;
}
