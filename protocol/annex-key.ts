import { ProtocolError, quote } from "./errors.ts";

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
