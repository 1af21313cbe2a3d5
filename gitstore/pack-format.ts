import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { open } from "node:fs/promises";
import { GitStoreError } from "./errors.ts";

/**
 * The two git pack formats the bucket holds, checked without git: a pack (`PACK`, version, object count,
 * objects, SHA-1 of everything before it) and its version-2 index (fan-out table, sorted object ids, CRCs,
 * offsets, the pack's checksum, the index's own checksum). A pack is named after its trailing checksum.
 */
export const PACK_BASE_NAME = /^pack-[0-9a-f]{40}$/;

export interface PackSummary {
  /** `pack-<checksum>`. */
  name: string;
  checksum: string;
  objectCount: number;
}

/** Reads a pack file's header and recomputes its trailing checksum (streamed: memory stays small). */
export async function verifyPackFile(path: string, label: string): Promise<PackSummary> {
  const handle = await open(path, "r");
  let size: number;
  const header = Buffer.alloc(12);
  const trailer = Buffer.alloc(20);
  try {
    size = (await handle.stat()).size;
    if (size < 32) throw corrupt(label, `it is ${size} bytes long, shorter than any pack`);
    await handle.read(header, 0, 12, 0);
    await handle.read(trailer, 0, 20, size - 20);
  } finally {
    await handle.close();
  }
  if (header.toString("latin1", 0, 4) !== "PACK") throw corrupt(label, 'it does not start with "PACK"');
  const version = header.readUInt32BE(4);
  if (version !== 2 && version !== 3) throw corrupt(label, `it has pack version ${version}`);
  const hash = createHash("sha1");
  for await (const chunk of createReadStream(path, { start: 0, end: size - 21 })) hash.update(chunk as Buffer);
  const checksum = hash.digest("hex");
  if (checksum !== trailer.toString("hex")) {
    throw corrupt(label, "its SHA-1 checksum does not match its content (it was truncated or altered)");
  }
  return { name: `pack-${checksum}`, checksum, objectCount: header.readUInt32BE(8) };
}

/** The object count in a pack's header, for a pack this machine just wrote (not checked further). */
export async function readPackObjectCount(path: string): Promise<number> {
  const handle = await open(path, "r");
  try {
    const header = Buffer.alloc(12);
    await handle.read(header, 0, 12, 0);
    if (header.toString("latin1", 0, 4) !== "PACK") throw corrupt(path, 'it does not start with "PACK"');
    return header.readUInt32BE(8);
  } finally {
    await handle.close();
  }
}

export interface PackIndex {
  objectCount: number;
  packChecksum: string;
  /** Sorted object ids. */
  oids: string[];
}

/** Parses and checks a version-2 pack index. */
export function parsePackIndex(body: Buffer, label: string): PackIndex {
  const bad = (why: string) => new GitStoreError("corrupt-pack", `The pack index ${label} is not valid: ${why}.`);
  if (body.length < 8 + 256 * 4 + 40 || body.readUInt32BE(0) !== 0xff744f63 || body.readUInt32BE(4) !== 2) {
    throw bad("it is not a version-2 git pack index");
  }
  const idxChecksum = createHash("sha1")
    .update(body.subarray(0, body.length - 20))
    .digest("hex");
  if (idxChecksum !== body.subarray(body.length - 20).toString("hex")) throw bad("its checksum does not match its content");
  const objectCount = body.readUInt32BE(8 + 255 * 4);
  const minimum = 8 + 256 * 4 + objectCount * (20 + 4 + 4) + 40;
  if (body.length < minimum) throw bad(`it is too short for the ${objectCount} objects its fan-out table announces`);
  const oids: string[] = [];
  const start = 8 + 256 * 4;
  for (let i = 0; i < objectCount; i++) oids.push(body.toString("hex", start + i * 20, start + (i + 1) * 20));
  // git finds an object by its first byte's fan-out range, then by binary search: both must hold.
  for (let i = 1; i < objectCount; i++) if (oids[i - 1]! >= oids[i]!) throw bad("its object ids are not sorted, each once");
  for (let byte = 0, i = 0; byte < 256; byte++) {
    while (i < objectCount && body[start + i * 20]! <= byte) i++;
    if (body.readUInt32BE(8 + byte * 4) !== i) throw bad("its fan-out table does not match its object ids");
  }
  return { objectCount, packChecksum: body.toString("hex", body.length - 40, body.length - 20), oids };
}

/** One object of a pack, as its index records it. */
export interface PackIndexEntry {
  /** The object id (hex). */
  oid: string;
  /** Where its entry starts in the pack. */
  offset: number;
  /** CRC-32 of its entry's bytes in the pack. */
  crc32: number;
}

/**
 * Writes the version-2 index of a pack (as `parsePackIndex` reads it): the fan-out table, the ids
 * sorted, their CRCs, their offsets (those past 2 GiB in the table of 8-byte offsets), the pack's
 * checksum and the index's own. Each id must appear once.
 */
export function formatPackIndex(objects: readonly PackIndexEntry[], packChecksum: string): Buffer {
  const sorted = [...objects].sort((a, b) => (a.oid < b.oid ? -1 : a.oid > b.oid ? 1 : 0));
  for (let i = 1; i < sorted.length; i++)
    if (sorted[i - 1]!.oid === sorted[i]!.oid) throw new Error(`a pack index lists each object once (${sorted[i]!.oid} twice)`);
  const count = sorted.length;
  const large = sorted.filter((o) => o.offset >= 0x80000000).length;
  const body = Buffer.alloc(8 + 256 * 4 + count * (20 + 4 + 4) + large * 8 + 40);
  body.writeUInt32BE(0xff744f63, 0);
  body.writeUInt32BE(2, 4);
  const ids = 8 + 256 * 4;
  const crcs = ids + count * 20;
  const offsets = crcs + count * 4;
  const largeOffsets = offsets + count * 4;
  let nextLarge = 0;
  for (let i = 0, byte = 0; byte < 256; byte++) {
    while (i < count && Number.parseInt(sorted[i]!.oid.slice(0, 2), 16) <= byte) i++;
    body.writeUInt32BE(i, 8 + byte * 4);
  }
  sorted.forEach((object, i) => {
    body.write(object.oid, ids + i * 20, 20, "hex");
    body.writeUInt32BE(object.crc32 >>> 0, crcs + i * 4);
    if (object.offset < 0x80000000) body.writeUInt32BE(object.offset, offsets + i * 4);
    else {
      body.writeUInt32BE((0x80000000 | nextLarge) >>> 0, offsets + i * 4);
      body.writeBigUInt64BE(BigInt(object.offset), largeOffsets + nextLarge * 8);
      nextLarge++;
    }
  });
  const tail = largeOffsets + large * 8;
  body.write(packChecksum, tail, 20, "hex");
  createHash("sha1")
    .update(body.subarray(0, tail + 20))
    .digest()
    .copy(body, tail + 20);
  return body;
}

/** Checks that an index belongs to a pack and lists as many objects as the pack holds. */
export function checkIndexMatchesPack(index: PackIndex, pack: PackSummary, label: string): void {
  if (index.packChecksum !== pack.checksum) {
    throw new GitStoreError("corrupt-pack", `The index of ${label} belongs to another pack (its pack checksum differs).`);
  }
  if (index.objectCount !== pack.objectCount) {
    throw new GitStoreError(
      "corrupt-pack",
      `The index of ${label} lists ${index.objectCount} objects but the pack holds ${pack.objectCount}.`,
    );
  }
}

function corrupt(label: string, why: string): GitStoreError {
  return new GitStoreError(
    "corrupt-pack",
    `The pack ${label} is damaged: ${why}. Nothing was changed locally; if it persists, the pack in the bucket must be ` +
      "replaced by a push from a machine that has these commits.",
  );
}
