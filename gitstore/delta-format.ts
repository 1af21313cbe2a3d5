/**
 * git's delta format, the body of a pack's OFS_DELTA and REF_DELTA entries: the base's size and the
 * target's size (little-endian, 7 bits a byte, high bit = more), then instructions — a copy (high bit set;
 * its low 4 bits say which offset bytes follow, the next 3 which size bytes, little-endian; a size of 0
 * means 0x10000) of a run of the base, or an insert (1–127: that many literal bytes follow).
 *
 * The encoder finds runs as git's diff-delta does: the base is indexed by a hash of each aligned 16-byte
 * block, the target is scanned with a rolling hash of 16 bytes, and a match is grown forwards and then
 * backwards over the literals not yet written. `applyDelta` is the decoder (git's patch-delta), used to
 * check what the encoder wrote.
 */
const BLOCK = 16;
/** Candidates tried for one hash (git keeps a bucket per hash and takes the longest match too). */
const CANDIDATES = 8;
/** The largest run one copy instruction carries (git's encoder never writes more). */
const MAX_COPY = 0x10000;
const MAX_INSERT = 0x7f;
/** The multiplier of the rolling hash, and its 15th power (the weight of the byte leaving the window). */
const MULTIPLIER = 0x01000193;
const LEAVING = power(MULTIPLIER, BLOCK - 1);

/**
 * The delta that turns `base` into `target`, or undefined when it would be longer than `maxSize` bytes
 * (then storing the target whole, or against another base, is better). Deterministic.
 */
export function encodeDelta(base: Uint8Array, target: Uint8Array, maxSize = Infinity): Buffer | undefined {
  const out = new Output(Math.min(target.length + 32, Number.isFinite(maxSize) ? maxSize + 32 : target.length + 32));
  out.varint(base.length);
  out.varint(target.length);
  const index = indexBlocks(base);
  let literalStart = 0;
  let at = 0;
  let hash = target.length >= BLOCK ? blockHash(target, 0) : 0;
  while (at + BLOCK <= target.length) {
    let bestLength = 0;
    let bestAt = 0;
    let candidate = index.heads[hash & index.mask]!;
    for (let tried = 0; candidate >= 0 && tried < CANDIDATES; tried++) {
      const from = candidate * BLOCK;
      const length = matchLength(base, from, target, at);
      if (length > bestLength) {
        bestLength = length;
        bestAt = from;
      }
      candidate = index.next[candidate]!;
    }
    if (bestLength >= BLOCK) {
      // Grow the match backwards over literals not yet written.
      let back = 0;
      while (at - back > literalStart && bestAt - back > 0 && target[at - back - 1] === base[bestAt - back - 1]) back++;
      out.literals(target, literalStart, at - back);
      out.copy(bestAt - back, bestLength + back);
      at += bestLength;
      literalStart = at;
      if (out.length > maxSize) return undefined;
      if (at + BLOCK <= target.length) hash = blockHash(target, at);
      continue;
    }
    if (out.length + (at - literalStart) / MAX_INSERT + (at - literalStart) > maxSize) return undefined;
    if (at + BLOCK < target.length) hash = roll(hash, target[at]!, target[at + BLOCK]!);
    at++;
  }
  out.literals(target, literalStart, target.length);
  return out.length > maxSize ? undefined : out.result();
}

/** The target a delta makes of `base`; throws on a delta that does not fit `base` or is cut short. */
export function applyDelta(base: Uint8Array, delta: Uint8Array): Buffer {
  let at = 0;
  const varint = () => {
    let value = 0;
    let shift = 0;
    let byte;
    do {
      if (at >= delta.length) throw new Error("the delta is cut short in its header");
      byte = delta[at++]!;
      value += (byte & 0x7f) * 2 ** shift;
      shift += 7;
    } while (byte & 0x80);
    return value;
  };
  const baseSize = varint();
  if (baseSize !== base.length) throw new Error(`the delta is for a base of ${baseSize} bytes, not ${base.length}`);
  const target = Buffer.alloc(varint());
  let written = 0;
  while (at < delta.length) {
    const op = delta[at++]!;
    if (op & 0x80) {
      let offset = 0;
      let size = 0;
      for (let k = 0; k < 4; k++) if (op & (1 << k)) offset += delta[at++]! * 2 ** (8 * k);
      for (let k = 0; k < 3; k++) if (op & (0x10 << k)) size += delta[at++]! * 2 ** (8 * k);
      if (size === 0) size = 0x10000;
      if (offset + size > base.length || written + size > target.length)
        throw new Error("a copy of the delta reaches past its base or target");
      target.set(base.subarray(offset, offset + size), written);
      written += size;
    } else if (op > 0) {
      if (at + op > delta.length || written + op > target.length) throw new Error("an insert of the delta is cut short");
      target.set(delta.subarray(at, at + op), written);
      at += op;
      written += op;
    } else {
      throw new Error("the delta holds the reserved instruction 0");
    }
  }
  if (written !== target.length) throw new Error(`the delta makes ${written} bytes where its header says ${target.length}`);
  return target;
}

/**
 * The base's aligned 16-byte blocks in a hash table: `heads[hash & mask]` is the first block of a slot
 * (-1 for none), `next[block]` the one after it in the same slot. Blocks of other hashes may share a
 * slot; a candidate is only ever taken for the bytes it matches.
 */
function indexBlocks(base: Uint8Array): { heads: Int32Array; next: Int32Array; mask: number } {
  const blocks = Math.floor(base.length / BLOCK);
  let size = 16;
  while (size < blocks * 2) size *= 2;
  const heads = new Int32Array(size).fill(-1);
  const next = new Int32Array(blocks);
  const mask = size - 1;
  // From the end, so a slot lists the earliest block first.
  for (let block = blocks - 1; block >= 0; block--) {
    const slot = blockHash(base, block * BLOCK) & mask;
    next[block] = heads[slot]!;
    heads[slot] = block;
  }
  return { heads, next, mask };
}

function blockHash(bytes: Uint8Array, at: number): number {
  let hash = 0;
  for (let k = 0; k < BLOCK; k++) hash = (Math.imul(hash, MULTIPLIER) + bytes[at + k]!) | 0;
  return hash;
}

function roll(hash: number, leaving: number, entering: number): number {
  return (Math.imul(hash - Math.imul(leaving, LEAVING), MULTIPLIER) + entering) | 0;
}

function power(base: number, exponent: number): number {
  let result = 1;
  for (let k = 0; k < exponent; k++) result = Math.imul(result, base);
  return result;
}

function matchLength(base: Uint8Array, from: number, target: Uint8Array, at: number): number {
  const limit = Math.min(base.length - from, target.length - at);
  let length = 0;
  while (length < limit && base[from + length] === target[at + length]) length++;
  return length;
}

/** A growing byte buffer with the delta format's writers. */
class Output {
  private buffer: Buffer;
  length = 0;

  constructor(capacity: number) {
    this.buffer = Buffer.allocUnsafe(Math.max(64, capacity));
  }

  private reserve(bytes: number) {
    if (this.length + bytes <= this.buffer.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.buffer.length * 2, this.length + bytes));
    this.buffer.copy(grown, 0, 0, this.length);
    this.buffer = grown;
  }

  private byte(value: number) {
    this.buffer[this.length++] = value;
  }

  varint(value: number) {
    this.reserve(10);
    do {
      const low = value % 128;
      value = Math.floor(value / 128);
      this.byte(value > 0 ? low | 0x80 : low);
    } while (value > 0);
  }

  literals(source: Uint8Array, start: number, end: number) {
    for (let at = start; at < end; at += MAX_INSERT) {
      const size = Math.min(MAX_INSERT, end - at);
      this.reserve(size + 1);
      this.byte(size);
      this.buffer.set(source.subarray(at, at + size), this.length);
      this.length += size;
    }
  }

  copy(offset: number, size: number) {
    for (let done = 0; done < size; done += MAX_COPY) {
      const run = Math.min(MAX_COPY, size - done);
      const from = offset + done;
      this.reserve(8);
      const opAt = this.length++;
      let op = 0x80;
      for (let k = 0; k < 4; k++) {
        const byte = Math.floor(from / 2 ** (8 * k)) & 0xff;
        if (byte) {
          op |= 1 << k;
          this.byte(byte);
        }
      }
      // A run of exactly 0x10000 is written as size 0, as git does.
      for (let k = 0; k < 3 && run !== MAX_COPY; k++) {
        const byte = (run >>> (8 * k)) & 0xff;
        if (byte) {
          op |= 0x10 << k;
          this.byte(byte);
        }
      }
      this.buffer[opAt] = op;
    }
  }

  result(): Buffer {
    return Buffer.from(this.buffer.subarray(0, this.length));
  }
}
