import { createHash, type Hash } from "node:crypto";
import { open } from "node:fs/promises";
import { keyDigest, parseAnnexKey } from "../../protocol/index.ts";
import { AnnexError } from "../errors.ts";

/** What content must hash to for a key: its digest and size. Keys that name no hash cannot be verified. */
export interface KeyCheck {
  readonly algorithm: "sha256" | "sha512" | "sha1" | "md5";
  readonly hex: string;
  readonly size: number | undefined;
}

export function keyCheck(key: string): KeyCheck {
  const digest = keyDigest(key);
  if (!digest) {
    throw new AnnexError(
      "unverifiable-key",
      key,
      `The key ${key} names no content hash, so its content cannot be verified; cloudbridge only moves hashed keys (SHA256E, SHA256, SHA512, SHA1, MD5).`,
    );
  }
  return { ...digest, size: parseAnnexKey(key).size };
}

/** Streams bytes through a hash; memory stays flat whatever the size. */
export async function hashStream(
  stream: AsyncIterable<unknown>,
  algorithm: KeyCheck["algorithm"] = "sha256",
): Promise<{ hex: string; size: number }> {
  const hash: Hash = createHash(algorithm);
  let size = 0;
  for await (const chunk of stream) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { hex: hash.digest("hex"), size };
}

/** Hashes a file through one reused buffer (a read stream would leave a fresh buffer per chunk for the GC). */
export async function hashFile(path: string, algorithm: KeyCheck["algorithm"] = "sha256"): Promise<{ hex: string; size: number }> {
  const hash: Hash = createHash(algorithm);
  const buffer = Buffer.allocUnsafe(1024 * 1024);
  const file = await open(path, "r");
  let size = 0;
  try {
    for (;;) {
      const { bytesRead } = await file.read(buffer, 0, buffer.length, size);
      if (bytesRead === 0) break;
      hash.update(buffer.subarray(0, bytesRead));
      size += bytesRead;
    }
  } finally {
    await file.close();
  }
  return { hex: hash.digest("hex"), size };
}

/** How hashed bytes differ from what the key names, or undefined when they are exactly its content. */
export function mismatch(check: KeyCheck, actual: { hex: string; size: number }): string | undefined {
  if (check.size !== undefined && actual.size !== check.size) return `it is ${actual.size} bytes, the key says ${check.size}`;
  if (actual.hex !== check.hex) return `its ${check.algorithm} is ${actual.hex}, the key says ${check.hex}`;
  return undefined;
}

/** The mismatch between a file and its key, or undefined when the file is exactly the key's content. */
export async function verifyFile(path: string, key: string): Promise<string | undefined> {
  const check = keyCheck(key);
  return mismatch(check, await hashFile(path, check.algorithm));
}
