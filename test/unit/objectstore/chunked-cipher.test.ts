import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { describe, it } from "node:test";
import {
  CHUNK_SIZE,
  DecryptStream,
  EncryptStream,
  chunkCount,
  ciphertextSize,
  decryptBuffer,
  encodeHeader,
  encryptBuffer,
  newHeader,
  objectKey,
  plaintextSize,
  sealedChunks,
  sealedLength,
  sealedRange,
} from "../../../objectstore/encryption/chunked-cipher.ts";
import { UndecryptableObject } from "../../../objectstore/encryption/errors.ts";
import { NameCipher } from "../../../objectstore/encryption/name-cipher.ts";

const dataKey = randomBytes(32);
const keyFor = () => dataKey;

async function collect(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const part of stream) parts.push(part as Buffer);
  return Buffer.concat(parts);
}

describe("chunked authenticated encryption of object bodies", () => {
  const sizes = [0, 1, CHUNK_SIZE - 1, CHUNK_SIZE, CHUNK_SIZE + 1, 3 * CHUNK_SIZE, 3 * CHUNK_SIZE + 17];

  it("round-trips every size, whole and streamed, and the sizes map both ways", async () => {
    for (const size of sizes) {
      const plain = randomBytes(size);
      const sealed = encryptBuffer(dataKey, newHeader(1), "repos/a.git/x", plain);
      assert.equal(sealed.length, ciphertextSize(size));
      assert.equal(plaintextSize(sealed.length, "x"), size);
      assert.deepEqual(decryptBuffer(keyFor, "repos/a.git/x", sealed), plain);
      // The stream sealer (unknown length) writes what the buffer sealer would, for the same header.
      const header = newHeader(1);
      const streamed = await collect(
        Readable.from([plain.subarray(0, 5), plain.subarray(5)]).pipe(new EncryptStream(dataKey, header, "k")),
      );
      assert.deepEqual(streamed, encryptBuffer(dataKey, header, "k", plain));
      const opened = await collect(
        Readable.from([streamed]).pipe(
          new DecryptStream(keyFor, "k", size, { first: 0, last: chunkCount(size) - 1, skip: 0, length: size }),
        ),
      );
      assert.deepEqual(opened, plain);
    }
  });

  it("seals parts chunk by chunk to the length announced for them, and the parts make the whole object", () => {
    const header = newHeader(1);
    const key = objectKey(dataKey, header, "k");
    for (const size of sizes) {
      const plain = randomBytes(size);
      const partSize = 2 * CHUNK_SIZE;
      const total = chunkCount(size);
      const parts: Buffer[] = [];
      for (let offset = 0; offset === 0 || offset < size; offset += partSize) {
        const part = plain.subarray(offset, offset + partSize);
        const prefix = offset === 0 ? encodeHeader(header) : undefined;
        const chunks = [...sealedChunks(key, offset / CHUNK_SIZE, total, part, prefix)];
        // Each chunk is made alone (a sealed chunk and its tag), never the part at once.
        assert.ok(chunks.every((chunk) => chunk.length <= CHUNK_SIZE + 32));
        const sealed = Buffer.concat(chunks);
        assert.equal(sealed.length, (prefix?.length ?? 0) + sealedLength(part.length));
        parts.push(sealed);
      }
      assert.deepEqual(Buffer.concat(parts), encryptBuffer(dataKey, header, "k", plain));
    }
  });

  it("decrypts any range from whole chunks alone", async () => {
    const size = 3 * CHUNK_SIZE + 17;
    const plain = randomBytes(size);
    const header = newHeader(1);
    const sealed = encryptBuffer(dataKey, header, "k", plain);
    for (const [start, end] of [
      [0, 0],
      [5, CHUNK_SIZE + 3],
      [CHUNK_SIZE, 2 * CHUNK_SIZE - 1],
      [size - 10, size - 1],
      [0, size - 1],
    ] as const) {
      const span = sealedRange(start, end, size);
      const part = sealed.subarray(span.from, span.to + 1);
      const opened = await collect(Readable.from([part]).pipe(new DecryptStream(objectKey(dataKey, header, "k"), "k", size, span)));
      assert.deepEqual(opened, plain.subarray(start, end + 1), `${start}-${end}`);
    }
  });

  it("refuses a flipped bit, a truncation, swapped chunks, another name and another key", async () => {
    const size = 3 * CHUNK_SIZE;
    const plain = randomBytes(size);
    const sealed = encryptBuffer(dataKey, newHeader(1), "k", plain);
    const flipped = Buffer.from(sealed);
    flipped[100]! ^= 1;
    assert.throws(() => decryptBuffer(keyFor, "k", flipped), UndecryptableObject);
    // Cut at a chunk boundary: a plausible size, but the new last chunk was sealed as "not last".
    const truncated = sealed.subarray(0, 32 + 2 * (CHUNK_SIZE + 16));
    assert.throws(() => decryptBuffer(keyFor, "k", truncated), /failed authentication/);
    const swapped = Buffer.concat([
      sealed.subarray(0, 32),
      sealed.subarray(32 + CHUNK_SIZE + 16, 32 + 2 * (CHUNK_SIZE + 16)),
      sealed.subarray(32, 32 + CHUNK_SIZE + 16),
      sealed.subarray(32 + 2 * (CHUNK_SIZE + 16)),
    ]);
    assert.throws(() => decryptBuffer(keyFor, "k", swapped), UndecryptableObject);
    assert.throws(() => decryptBuffer(keyFor, "other", sealed), UndecryptableObject);
    assert.throws(() => decryptBuffer(() => randomBytes(32), "k", sealed), UndecryptableObject);
    assert.throws(() => plaintextSize(sealed.length + 1, "k"), UndecryptableObject);
    await assert.rejects(
      collect(Readable.from([flipped]).pipe(new DecryptStream(keyFor, "k", size, { first: 0, last: 2, skip: 0, length: size }))),
      UndecryptableObject,
    );
  });
});

describe("sealed names", () => {
  const names = new NameCipher(randomBytes(32));
  it("are deterministic, reversible only in their context, and hide the length up to the padding", () => {
    const sealed = names.seal("refs/heads", "tax-papers-2025");
    assert.equal(sealed, names.seal("refs/heads", "tax-papers-2025"));
    assert.match(sealed, /^[a-z2-7]+$/);
    assert.equal(names.open("refs/heads", sealed), "tax-papers-2025");
    assert.equal(names.open("refs/tags", sealed), undefined);
    assert.equal(new NameCipher(randomBytes(32)).open("refs/heads", sealed), undefined);
    assert.equal(names.seal("c", "a").length, names.seal("c", "abcdefghijklmno").length);
    const pack = "0123456789abcdef0123456789abcdef01234567";
    const sealedPack = names.sealPackId(pack);
    assert.match(sealedPack, /^[0-9a-f]{64}$/);
    assert.equal(names.openPackId(sealedPack), pack);
    assert.equal(names.openPackId(sealedPack.replace(/^./, (c) => (c === "0" ? "1" : "0"))), undefined);
  });
});
