import { createCipheriv, createDecipheriv, hkdfSync, randomBytes, type DecipherGCM } from "node:crypto";
import { Transform, type TransformCallback } from "node:stream";
import { UndecryptableObject } from "./errors.ts";

/**
 * The body of every object of an encrypted repository (docs/encryption.md, "Objects"):
 *
 *   header (32 bytes): "CBE1" | key generation (uint32 BE) | salt (24 random bytes)
 *   chunks: AES-256-GCM of 64 KiB of plaintext each (the last one shorter), each followed by its 16-byte tag
 *
 * Each object has its own key, HKDF-SHA256(generation's data key, salt, "cloudbridge object v1\0" + logical
 * key name), so a chunk moved to another object, or an object copied under another name, fails
 * authentication. Chunk i's nonce is i (11 bytes big-endian) followed by a flag byte that is 1 only on the
 * last chunk (age's STREAM construction): chunks cannot be reordered, and a truncated object cannot pass,
 * because its new last chunk was sealed as "not last". There is always at least one chunk (an empty
 * plaintext is one empty final chunk), so the plaintext size follows from the ciphertext size, and any
 * plaintext range maps to whole chunks that can be fetched and verified alone.
 */
export const CHUNK_SIZE = 64 * 1024;
export const TAG_SIZE = 16;
export const HEADER_SIZE = 32;
const SEALED_CHUNK = CHUNK_SIZE + TAG_SIZE;
const MAGIC = Buffer.from("CBE1");
const SALT_SIZE = 24;

export interface ObjectHeader {
  readonly generation: number;
  readonly salt: Buffer;
}

export function newHeader(generation: number, salt: Buffer = randomBytes(SALT_SIZE)): ObjectHeader {
  return { generation, salt };
}

export function encodeHeader(header: ObjectHeader): Buffer {
  const out = Buffer.alloc(HEADER_SIZE);
  MAGIC.copy(out, 0);
  out.writeUInt32BE(header.generation, 4);
  header.salt.copy(out, 8);
  return out;
}

export function decodeHeader(bytes: Buffer, name: string): ObjectHeader {
  if (bytes.length < HEADER_SIZE || !bytes.subarray(0, 4).equals(MAGIC)) {
    throw new UndecryptableObject(name, "it does not start with cloudbridge's encrypted-object header");
  }
  return { generation: bytes.readUInt32BE(4), salt: Buffer.from(bytes.subarray(8, HEADER_SIZE)) };
}

/** Whether `bytes` begin like an encrypted object (a guess from 4 bytes: only decryption proves it). */
export function isSealedBody(bytes: Buffer): boolean {
  return bytes.length >= HEADER_SIZE && bytes.subarray(0, 4).equals(MAGIC);
}

/** How many chunks a plaintext of `size` bytes takes (at least one). */
export function chunkCount(size: number): number {
  return Math.max(1, Math.ceil(size / CHUNK_SIZE));
}

export function ciphertextSize(plaintextSize: number): number {
  return HEADER_SIZE + plaintextSize + TAG_SIZE * chunkCount(plaintextSize);
}

/** The plaintext size of a ciphertext of `size` bytes; throws for a size no encryption produces (a truncated or padded object). */
export function plaintextSize(size: number, name: string): number {
  const body = size - HEADER_SIZE;
  if (body < TAG_SIZE) throw new UndecryptableObject(name, `it is ${size} bytes, shorter than any encrypted object`);
  const chunks = Math.ceil(body / SEALED_CHUNK);
  const plain = body - TAG_SIZE * chunks;
  if (plain < 0 || chunkCount(plain) !== chunks)
    throw new UndecryptableObject(name, `its size (${size} bytes) is not one encryption produces`);
  return plain;
}

/** The per-object key: the repository's data key of the header's generation, bound to the salt and to the object's logical name. */
export function objectKey(dataKey: Buffer, header: ObjectHeader, name: string): Buffer {
  return Buffer.from(hkdfSync("sha256", dataKey, header.salt, Buffer.from(`cloudbridge object v1\0${name}`), 32));
}

function nonce(index: number, last: boolean): Buffer {
  const iv = Buffer.alloc(12);
  iv.writeBigUInt64BE(BigInt(index), 3);
  iv[11] = last ? 1 : 0;
  return iv;
}

export function sealChunk(key: Buffer, index: number, last: boolean, plain: Buffer): Buffer[] {
  const cipher = createCipheriv("aes-256-gcm", key, nonce(index, last));
  const body = cipher.update(plain);
  cipher.final();
  return [body, cipher.getAuthTag()];
}

export function openChunk(key: Buffer, index: number, last: boolean, sealed: Buffer, name: string): Buffer {
  if (sealed.length < TAG_SIZE) throw new UndecryptableObject(name, `chunk ${index} is cut short`);
  const decipher = createDecipheriv("aes-256-gcm", key, nonce(index, last));
  decipher.setAuthTag(sealed.subarray(sealed.length - TAG_SIZE));
  const plain = decipher.update(sealed.subarray(0, sealed.length - TAG_SIZE));
  try {
    decipher.final();
  } catch {
    throw new UndecryptableObject(name, `chunk ${index} failed authentication (altered, moved, truncated, or sealed with another key)`);
  }
  return plain;
}

/** Seals the chunks `firstIndex`… of `plain` (a multipart part, or a whole object when `firstIndex` is 0 and `totalChunks` covers it). */
export function sealChunks(key: Buffer, firstIndex: number, totalChunks: number, plain: Buffer): Buffer[] {
  return [...sealedChunks(key, firstIndex, totalChunks, plain)];
}

/**
 * The same sealed chunks as `sealChunks`, made one at a time as they are consumed, so a part is never
 * held sealed whole beside its plaintext; `prefix` (the header, before part 1) comes first.
 */
export function* sealedChunks(key: Buffer, firstIndex: number, totalChunks: number, plain: Buffer, prefix?: Buffer): Generator<Buffer> {
  if (prefix) yield prefix;
  const count = Math.max(1, Math.ceil(plain.length / CHUNK_SIZE));
  for (let i = 0; i < count; i++) {
    const index = firstIndex + i;
    yield* sealChunk(key, index, index === totalChunks - 1, plain.subarray(i * CHUNK_SIZE, (i + 1) * CHUNK_SIZE));
  }
}

/** The sealed size of `plainLength` bytes of whole chunks (a part; the object's header not counted). */
export function sealedLength(plainLength: number): number {
  return plainLength + TAG_SIZE * Math.max(1, Math.ceil(plainLength / CHUNK_SIZE));
}

export function encryptBuffer(dataKey: Buffer, header: ObjectHeader, name: string, plain: Buffer): Buffer {
  const key = objectKey(dataKey, header, name);
  return Buffer.concat([encodeHeader(header), ...sealChunks(key, 0, chunkCount(plain.length), plain)]);
}

/** The whole plaintext of a whole ciphertext, or UndecryptableObject. */
export function decryptBuffer(keyFor: (header: ObjectHeader) => Buffer, name: string, sealed: Buffer): Buffer {
  const header = decodeHeader(sealed, name);
  const size = plaintextSize(sealed.length, name);
  const key = objectKey(keyFor(header), header, name);
  const total = chunkCount(size);
  const out: Buffer[] = [];
  for (let i = 0; i < total; i++) {
    const start = HEADER_SIZE + i * SEALED_CHUNK;
    out.push(openChunk(key, i, i === total - 1, sealed.subarray(start, Math.min(start + SEALED_CHUNK, sealed.length)), name));
  }
  return Buffer.concat(out, size);
}

/**
 * Encrypts a stream of unknown length: one chunk is held back until the next byte (or the end) says
 * whether it is the last. Emits the header first.
 */
export class EncryptStream extends Transform {
  private readonly key: Buffer;
  private readonly pending: Buffer[] = [];
  private pendingLength = 0;
  private index = 0;
  private held: Buffer | undefined;

  constructor(dataKey: Buffer, header: ObjectHeader, name: string) {
    super();
    this.key = objectKey(dataKey, header, name);
    this.push(encodeHeader(header));
  }

  override _transform(data: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    let rest = data;
    while (rest.length > 0) {
      const take = rest.subarray(0, CHUNK_SIZE - this.pendingLength);
      this.pending.push(take);
      this.pendingLength += take.length;
      rest = rest.subarray(take.length);
      if (this.pendingLength === CHUNK_SIZE) {
        // A full chunk: the one held before it was not the last.
        this.emitHeld(false);
        this.held = this.pending.length === 1 ? Buffer.from(this.pending[0]!) : Buffer.concat(this.pending, CHUNK_SIZE);
        this.pending.length = 0;
        this.pendingLength = 0;
      }
    }
    done();
  }

  override _flush(done: TransformCallback): void {
    if (this.pendingLength > 0) {
      this.emitHeld(false);
      this.held = Buffer.concat(this.pending, this.pendingLength);
    }
    this.emitHeld(true);
    done();
  }

  private emitHeld(last: boolean): void {
    if (this.held === undefined && !last) return;
    for (const part of sealChunk(this.key, this.index++, last, this.held ?? Buffer.alloc(0))) this.push(part);
    this.held = undefined;
  }
}

/**
 * Decrypts sealed chunks `first`..`last` of an object of `size` plaintext bytes arriving as a stream (a
 * whole object, header first, or a ranged read of whole chunks) and emits plaintext from `skip`, at most
 * `length` bytes. Each chunk is deciphered as its bytes arrive (no copy), and its plaintext is released only
 * once its tag verified. A chunk that fails, a stream that ends early or runs long is an error.
 */
export class DecryptStream extends Transform {
  private readonly name: string;
  private readonly range: { first: number; last: number; skip: number; length: number };
  private readonly total: number;
  private readonly size: number;
  private key: Buffer | undefined;
  private keyFor: ((header: ObjectHeader) => Buffer) | undefined;
  private headerBytes: Buffer[] = [];
  private headerLength = 0;
  private index: number;
  private skip: number;
  private left: number;
  /** The chunk being received: its decipher, ciphertext bytes still to come, plaintext held until its tag verifies. */
  private decipher: DecipherGCM | undefined;
  private bodyLeft = 0;
  private readonly tag = Buffer.alloc(TAG_SIZE);
  private tagLength = 0;
  private held: Buffer[] = [];

  /** `key` is the object's key, or (for a stream that starts with the header) how to find the data key from the header. */
  constructor(
    key: Buffer | ((header: ObjectHeader) => Buffer),
    name: string,
    size: number,
    range: { first: number; last: number; skip: number; length: number },
  ) {
    super();
    if (Buffer.isBuffer(key)) this.key = key;
    else this.keyFor = key;
    this.name = name;
    this.range = range;
    this.size = size;
    this.total = chunkCount(size);
    this.index = range.first;
    this.skip = range.skip;
    this.left = range.length;
  }

  override _transform(data: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    try {
      let rest = data;
      if (this.key === undefined) {
        this.headerBytes.push(data);
        this.headerLength += data.length;
        if (this.headerLength < HEADER_SIZE) return done();
        const all = Buffer.concat(this.headerBytes, this.headerLength);
        const header = decodeHeader(all, this.name);
        this.key = objectKey(this.keyFor!(header), header, this.name);
        this.headerBytes = [];
        rest = all.subarray(HEADER_SIZE);
      }
      while (rest.length > 0) {
        if (this.index > this.range.last) throw new UndecryptableObject(this.name, "it holds more bytes than its chunks");
        if (this.decipher === undefined) this.startChunk();
        if (this.bodyLeft > 0) {
          const body = rest.subarray(0, this.bodyLeft);
          const plain = this.decipher!.update(body);
          if (plain.length > 0) this.held.push(plain);
          this.bodyLeft -= body.length;
          rest = rest.subarray(body.length);
          continue;
        }
        const tag = rest.subarray(0, TAG_SIZE - this.tagLength);
        tag.copy(this.tag, this.tagLength);
        this.tagLength += tag.length;
        rest = rest.subarray(tag.length);
        if (this.tagLength === TAG_SIZE) this.finishChunk();
      }
      done();
    } catch (error) {
      done(error as Error);
    }
  }

  override _flush(done: TransformCallback): void {
    try {
      if (this.key === undefined) throw new UndecryptableObject(this.name, "it ended inside its header");
      if (this.index <= this.range.last || this.left > 0)
        throw new UndecryptableObject(this.name, "it ended before its last chunk (truncated)");
      done();
    } catch (error) {
      done(error as Error);
    }
  }

  private startChunk(): void {
    const last = this.index === this.total - 1;
    this.decipher = createDecipheriv("aes-256-gcm", this.key!, nonce(this.index, last)) as DecipherGCM;
    this.bodyLeft = last ? this.size - this.index * CHUNK_SIZE : CHUNK_SIZE;
    this.tagLength = 0;
  }

  private finishChunk(): void {
    const decipher = this.decipher!;
    decipher.setAuthTag(this.tag);
    try {
      const tail = decipher.final();
      if (tail.length > 0) this.held.push(tail);
    } catch {
      throw new UndecryptableObject(
        this.name,
        `chunk ${this.index} failed authentication (altered, moved, truncated, or sealed with another key)`,
      );
    }
    const verified = this.held;
    this.held = [];
    this.decipher = undefined;
    this.index++;
    for (const plain of verified) this.emitPlain(plain);
  }

  private emitPlain(plain: Buffer): void {
    let out = plain;
    if (this.skip > 0) {
      const cut = Math.min(this.skip, out.length);
      out = out.subarray(cut);
      this.skip -= cut;
    }
    if (out.length > this.left) out = out.subarray(0, this.left);
    this.left -= out.length;
    if (out.length > 0) this.push(out);
  }
}

/** The ciphertext bytes (inclusive) holding plaintext bytes start..end, and where that plaintext begins in them. */
export function sealedRange(
  start: number,
  end: number,
  size: number,
): { first: number; last: number; from: number; to: number; skip: number; length: number } {
  const first = Math.floor(start / CHUNK_SIZE);
  const last = Math.min(Math.floor(end / CHUNK_SIZE), chunkCount(size) - 1);
  const from = HEADER_SIZE + first * SEALED_CHUNK;
  const to = Math.min(HEADER_SIZE + (last + 1) * SEALED_CHUNK, ciphertextSize(size)) - 1;
  return { first, last, from, to, skip: start - first * CHUNK_SIZE, length: Math.min(end, size - 1) - start + 1 };
}
