import { createCipheriv, createHmac, hkdfSync, timingSafeEqual } from "node:crypto";

/**
 * Deterministic authenticated encryption of names (SIV: the IV is an HMAC of the name, so the same name
 * always seals to the same text and a listing can be read back), as Syncthing does for untrusted devices.
 * `context` (the logical path above the name) is authenticated too, so a name moved under another folder
 * does not open. Names are padded with NUL bytes to a multiple of `pad` bytes, so their length says little.
 * The key comes from the first key generation and never changes: a ref keeps one object name for its whole
 * life, which compare-and-swap needs (docs/encryption.md, "Names").
 */
export class NameCipher {
  private readonly macKey: Buffer;
  private readonly encKey: Buffer;

  constructor(firstDataKey: Buffer) {
    this.macKey = Buffer.from(hkdfSync("sha256", firstDataKey, Buffer.alloc(0), Buffer.from("cloudbridge names v1 mac"), 32));
    this.encKey = Buffer.from(hkdfSync("sha256", firstDataKey, Buffer.alloc(0), Buffer.from("cloudbridge names v1 enc"), 32));
  }

  private siv(context: string, plain: Buffer, length: number): Buffer {
    return createHmac("sha256", this.macKey).update(`${context}\0`).update(plain).digest().subarray(0, length);
  }

  private ctr(iv: Buffer, data: Buffer): Buffer {
    const counter = Buffer.alloc(16);
    iv.copy(counter, 0, 0, Math.min(16, iv.length));
    const cipher = createCipheriv("aes-256-ctr", this.encKey, counter);
    return Buffer.concat([cipher.update(data), cipher.final()]);
  }

  /** A name as lowercase base32 (S3- and ref-safe): 16-byte synthetic IV, then the padded name encrypted. */
  seal(context: string, name: string, pad = 16): string {
    const raw = Buffer.from(name, "utf8");
    const padded = Buffer.alloc(Math.max(pad, Math.ceil(raw.length / pad) * pad));
    raw.copy(padded);
    const iv = this.siv(context, padded, 16);
    return base32(Buffer.concat([iv, this.ctr(iv, padded)]));
  }

  /** The name `seal` made, or undefined for text that is not a name sealed with this key in this context. */
  open(context: string, sealed: string): string | undefined {
    const bytes = unbase32(sealed);
    if (!bytes || bytes.length < 32 || bytes.length % 16 !== 0) return undefined;
    const iv = bytes.subarray(0, 16);
    const padded = this.ctr(iv, bytes.subarray(16));
    if (!timingSafeEqual(this.siv(context, padded, 16), iv)) return undefined;
    const end = padded.indexOf(0);
    const raw = end < 0 ? padded : padded.subarray(0, end);
    if (end >= 0 && padded.subarray(end).some((byte) => byte !== 0)) return undefined;
    return raw.toString("utf8");
  }

  /**
   * A git pack id (40 hex digits) sealed into 64 hex digits — the length of a SHA-256 pack id, so the
   * object stays a well-formed `pack-<hex>.pack` that tools and the change function recognise: a 12-byte
   * synthetic IV, then the 20 id bytes encrypted.
   */
  sealPackId(id: string): string {
    const raw = Buffer.from(id, "hex");
    const iv = this.siv("pack", raw, 12);
    return Buffer.concat([iv, this.ctr(iv, raw)]).toString("hex");
  }

  openPackId(sealed: string): string | undefined {
    if (!/^[0-9a-f]{64}$/.test(sealed)) return undefined;
    const bytes = Buffer.from(sealed, "hex");
    const iv = bytes.subarray(0, 12);
    const raw = this.ctr(iv, bytes.subarray(12));
    return timingSafeEqual(this.siv("pack", raw, 12), iv) ? raw.toString("hex") : undefined;
  }
}

const ALPHABET = "abcdefghijklmnopqrstuvwxyz234567";

function base32(bytes: Buffer): string {
  let out = "";
  let bits = 0;
  let value = 0;
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += ALPHABET[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
    value &= (1 << bits) - 1;
  }
  if (bits > 0) out += ALPHABET[(value << (5 - bits)) & 31];
  return out;
}

function unbase32(text: string): Buffer | undefined {
  const out: number[] = [];
  let bits = 0;
  let value = 0;
  for (const char of text) {
    const digit = ALPHABET.indexOf(char);
    if (digit < 0) return undefined;
    value = (value << 5) | digit;
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 255);
      bits -= 8;
    }
    value &= (1 << bits) - 1;
  }
  return Buffer.from(out);
}
