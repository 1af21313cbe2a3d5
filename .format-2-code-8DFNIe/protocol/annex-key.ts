import { ProtocolError, quote } from "./errors.ts";
import { hasLoneSurrogate } from "./names.ts";

/**
 * git-annex keys: `BACKEND[-sSIZE][-mMTIME][-SCHUNKSIZE-CCHUNK]--NAME`.
 * cloudbridge writes SHA256E keys (`SHA256E-s<size>--<sha256hex><ext>`) and reads any well-formed key,
 * because content that a real git-annex uploaded may use another backend.
 */
export interface AnnexKey {
  readonly backend: string;
  readonly size: number | undefined;
  readonly mtime: number | undefined;
  readonly chunkSize: number | undefined;
  readonly chunk: number | undefined;
  /** The part after "--": for hashing backends the hash plus any extension. */
  readonly name: string;
}

const BACKEND = /^[A-Z0-9]+E?$/;
// eslint-disable-next-line no-control-regex -- a key becomes an S3 key segment and a file name
const NAME_FORBIDDEN = /[/\x00-\x1f\x7f]/;

export function parseAnnexKey(text: string): AnnexKey {
  const fail = (why: string): never => {
    throw new ProtocolError("invalid-annex-key", `${quote(String(text))} is not a git-annex key: ${why}.`, text);
  };
  if (typeof text !== "string" || text.length === 0) fail("it is empty");
  if (text.length > 512) fail("it is longer than 512 characters");
  const sep = text.indexOf("--");
  if (sep < 0) fail('it has no "--" before the name');
  const [backend, ...fields] = text.slice(0, sep).split("-");
  const name = text.slice(sep + 2);
  if (!backend || !BACKEND.test(backend)) fail(`the backend ${quote(backend ?? "")} is not upper-case letters and digits`);
  if (name.length === 0) fail("the name after -- is empty");
  if (NAME_FORBIDDEN.test(name) || name === "." || name === "..") fail('the name contains "/" or a control character');
  if (hasLoneSurrogate(name)) fail("the name is not valid Unicode");
  const key: { -readonly [K in keyof AnnexKey]: AnnexKey[K] } = {
    backend: backend!,
    size: undefined,
    mtime: undefined,
    chunkSize: undefined,
    chunk: undefined,
    name,
  };
  for (const field of fields) {
    const value = Number(field.slice(1));
    if (!/^[smSC]\d{1,20}$/.test(field) || !Number.isSafeInteger(value)) fail(`the field ${quote(field)} is not understood`);
    if (field[0] === "s") key.size = value;
    else if (field[0] === "m") key.mtime = value;
    else if (field[0] === "S") key.chunkSize = value;
    else key.chunk = value;
  }
  if (backend!.startsWith("SHA256")) {
    const hash = name.slice(0, 64);
    if (!/^[0-9a-f]{64}$/.test(hash)) fail("a SHA256 key must name 64 lowercase hex digits");
    if (backend === "SHA256" && name.length !== 64) fail("a SHA256 key (without E) has no extension");
  }
  // One spelling per key, as git-annex writes it: another spelling of the same fields would name another
  // object in the bucket and hash to another log file.
  if (formatAnnexKey(key) !== text) fail("its fields are not each once, in the order s, m, S, C, without leading zeros");
  return key;
}

export function formatAnnexKey(key: AnnexKey): string {
  let text = key.backend;
  if (key.size !== undefined) text += `-s${key.size}`;
  if (key.mtime !== undefined) text += `-m${key.mtime}`;
  if (key.chunkSize !== undefined) text += `-S${key.chunkSize}`;
  if (key.chunk !== undefined) text += `-C${key.chunk}`;
  return `${text}--${key.name}`;
}

/** Throws unless `text` is a well-formed key; returns it unchanged. */
export function assertAnnexKey(text: string): string {
  parseAnnexKey(text);
  return text;
}

/**
 * The extension an `E` backend keeps from a file name, by git-annex's rules (10.20230126, checked against
 * `git annex calckey`): the base name's leading dots are not an extension; of the dot-separated parts after
 * the first dot, read from the end, stop at the first longer than 4 bytes, drop any with ASCII other than
 * letters and digits, keep the last 2. "a.tar.gz" → ".tar.gz", "x.y.z.w" → ".z.w", "a.tar.gz.longer" → "".
 */
export function keyExtension(fileName: string): string {
  const base = (fileName.split("/").pop() ?? "").replace(/^\.+/, "");
  const dot = base.indexOf(".");
  if (dot < 0) return "";
  const parts = base
    .slice(dot + 1)
    .split(".")
    .reverse();
  const short: string[] = [];
  for (const part of parts) {
    if (utf8Length(part) > 4) break;
    short.push(part);
  }
  const kept = short
    // A lone surrogate (a byte that was not UTF-8, escaped) has no UTF-8 form: such a part is no extension.
    .filter((part) => [...part].every((c) => /[A-Za-z0-9]/.test(c) || (c.charCodeAt(0) > 127 && !hasLoneSurrogate(c))))
    .slice(0, 2)
    .reverse()
    .filter((part) => part.length > 0);
  return kept.length === 0 ? "" : `.${kept.join(".")}`;
}

function utf8Length(text: string): number {
  let length = 0;
  for (const c of text) {
    const code = c.codePointAt(0)!;
    length += code < 0x80 ? 1 : code < 0x800 ? 2 : code < 0x10000 ? 3 : 4;
  }
  return length;
}

/** The SHA256E key of content with this hash and size, named like `fileName`. */
export function sha256eKey(sha256hex: string, size: number, fileName: string): string {
  return assertAnnexKey(`SHA256E-s${size}--${sha256hex}${keyExtension(fileName)}`);
}

/** The digest a key names, for verifying content against it; undefined for keys that name no hash (WORM, URL). */
export function keyDigest(text: string): { algorithm: "sha256" | "sha512" | "sha1" | "md5"; hex: string } | undefined {
  const key = parseAnnexKey(text);
  const match = /^(SHA256|SHA512|SHA1|MD5)E?$/.exec(key.backend);
  if (!match) return undefined;
  const algorithm = match[1]!.toLowerCase() as "sha256" | "sha512" | "sha1" | "md5";
  const hexLength = { sha256: 64, sha512: 128, sha1: 40, md5: 32 }[algorithm];
  const hex = key.name.slice(0, hexLength);
  if (!new RegExp(`^[0-9a-f]{${hexLength}}$`).test(hex)) {
    throw new ProtocolError("invalid-annex-key", `${quote(text)} does not name a ${algorithm} digest.`, text);
  }
  return { algorithm, hex };
}

/** MD5 of a string's UTF-8 bytes. protocol/ does no I/O and imports no crypto, so callers pass node's. */
export type Md5 = (text: string) => Uint8Array;

/** The key without its chunk fields: git-annex hashes this to place a key's files. */
function nonChunkKey(text: string): string {
  return formatAnnexKey({ ...parseAnnexKey(text), chunkSize: undefined, chunk: undefined });
}

/** git-annex's hashdirlower: `abc/def/` from the MD5 hex of the key; used for the git-annex branch's logs. */
export function hashDirLower(key: string, md5: Md5): string {
  const hex = [...md5(nonChunkKey(key))].map((byte) => byte.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 3)}/${hex.slice(3, 6)}/`;
}

const MIXED_CHARS = "0123456789zqjxkmvwgpfZQJXKMVWGPF";

/** git-annex's hashdirmixed: `Xx/Yy/`; used for `.git/annex/objects/`. */
export function hashDirMixed(key: string, md5: Md5): string {
  const digest = md5(nonChunkKey(key));
  // The first 32-bit little-endian word, 6 bits at a time into 5-bit letters, pairs swapped (Annex/DirHashes.hs).
  const word = (digest[0]! | (digest[1]! << 8) | (digest[2]! << 16) | (digest[3]! << 24)) >>> 0;
  const chars: string[] = [];
  for (let i = 0; i < 8; i++) chars.push(MIXED_CHARS[Math.floor(word / 2 ** (6 * i)) & 31]!);
  const swapped = chars.map((_, i) => chars[i % 2 === 0 ? i + 1 : i - 1]!).join("");
  return `${swapped.slice(0, 2)}/${swapped.slice(2, 4)}/`;
}
