/**
 * The one reader of git's tree listings (`ls-tree -z`, `diff-tree -z`) and the one policy for names that
 * are not valid UTF-8. git stores names as bytes; a file system on this machine (and every other part of
 * cloudbridge) works with Unicode names. A name that is not valid UTF-8 has no faithful Unicode spelling,
 * and a lossy one (U+FFFD) is a different file to git, so writing it would put two names in the shared
 * tree. Such a name is therefore kept exactly, as a string that cannot collide with any real name (each
 * invalid byte becomes a lone surrogate, U+DC80–U+DCFF, as Python's "surrogateescape"), and refused
 * wherever it would touch a disk: `unrepresentableNameReason` says why, the same words for a tree entry
 * and for a file found in the folder.
 */
export interface TreeEntry {
  mode: string;
  oid: string;
  /** The blob's size, when listed with `ls-tree -l`. */
  size?: number;
}

export interface TreeChange {
  path: string;
  /** The new mode and object (of the old side, for a deletion). */
  mode: string;
  oid: string;
  deleted: boolean;
}

const strict = new TextDecoder("utf-8", { fatal: true });

/** A name from git or from a directory listing, as a string: exact when valid UTF-8, escaped otherwise. */
export function decodePath(bytes: Uint8Array): string {
  try {
    return strict.decode(bytes);
  } catch {
    return decodeEscaping(bytes);
  }
}

/** The bytes git holds for a path made by `decodePath` (the escaped bytes restored). */
export function encodePath(path: string): Buffer {
  if (!hasEscapedByte(path)) return Buffer.from(path);
  const parts: Buffer[] = [];
  let run = "";
  for (const char of path) {
    const code = char.charCodeAt(0);
    if (char.length === 1 && code >= 0xdc80 && code <= 0xdcff) {
      parts.push(Buffer.from(run), Buffer.from([code - 0xdc00]));
      run = "";
    } else run += char;
  }
  parts.push(Buffer.from(run));
  return Buffer.concat(parts);
}

/** Why a path cannot be written on (or read from) this machine as it is named, or undefined when it can. */
export function unrepresentableNameReason(path: string): string | undefined {
  if (!hasEscapedByte(path)) return undefined;
  return (
    `the name ${displayPath(path)} is not valid UTF-8, so it cannot be written here without being renamed; ` +
    "rename it (to a UTF-8 name) on the machine that made it"
  );
}

/** A path for a message: quoted, with each byte that is not UTF-8 shown as \xNN. */
export function displayPath(path: string): string {
  const shown = path.replace(/[\udc80-\udcff]/g, (c) => `\\x${(c.charCodeAt(0) - 0xdc00).toString(16).padStart(2, "0")}`);
  return JSON.stringify(shown).replaceAll("\\\\x", "\\x");
}

/** `git ls-tree -r -z [-l]` output: path → entry, for blobs, symlinks and submodules. */
export function parseLsTree(stdout: Buffer): Map<string, TreeEntry> {
  const entries = new Map<string, TreeEntry>();
  for (const record of nulRecords(stdout)) {
    const tab = record.indexOf(9);
    if (tab < 0) continue;
    const [mode, type, oid, size] = record.subarray(0, tab).toString().split(/ +/);
    if (type !== "blob" && type !== "commit") continue;
    const entry: TreeEntry = { mode: mode!, oid: oid! };
    if (size !== undefined && size !== "-") entry.size = Number(size);
    entries.set(decodePath(record.subarray(tab + 1)), entry);
  }
  return entries;
}

/** `git diff-tree -r -z --no-renames` output: each path added, changed or deleted. */
export function parseDiffTree(stdout: Buffer): TreeChange[] {
  const changes: TreeChange[] = [];
  const records = [...nulRecords(stdout)];
  for (let i = 0; i + 1 < records.length; i += 2) {
    const meta = records[i]!.toString();
    if (!meta.startsWith(":")) continue;
    const [oldMode, newMode, oldOid, newOid, status] = meta.slice(1).split(" ");
    const deleted = status === "D";
    changes.push({ path: decodePath(records[i + 1]!), mode: deleted ? oldMode! : newMode!, oid: deleted ? oldOid! : newOid!, deleted });
  }
  return changes;
}

function* nulRecords(stdout: Buffer): Generator<Buffer> {
  let start = 0;
  while (start < stdout.length) {
    const end = stdout.indexOf(0, start);
    yield stdout.subarray(start, end < 0 ? stdout.length : end);
    start = end < 0 ? stdout.length : end + 1;
  }
}

function hasEscapedByte(path: string): boolean {
  return /[\udc80-\udcff]/.test(path);
}

/** Decodes valid UTF-8 sequences and escapes each byte that is not part of one. */
function decodeEscaping(bytes: Uint8Array): string {
  let out = "";
  let i = 0;
  while (i < bytes.length) {
    const length = sequenceLength(bytes, i);
    if (length === 0) {
      out += String.fromCharCode(0xdc00 + bytes[i]!);
      i += 1;
    } else {
      out += strict.decode(bytes.subarray(i, i + length));
      i += length;
    }
  }
  return out;
}

/** The length of the valid UTF-8 sequence starting at `i`, or 0 when the byte there does not start one. */
function sequenceLength(bytes: Uint8Array, i: number): number {
  const lead = bytes[i]!;
  const length =
    lead < 0x80 ? 1 : lead >= 0xc2 && lead <= 0xdf ? 2 : lead >= 0xe0 && lead <= 0xef ? 3 : lead >= 0xf0 && lead <= 0xf4 ? 4 : 0;
  if (length <= 1 || i + length > bytes.length) return length === 1 ? 1 : 0;
  try {
    strict.decode(bytes.subarray(i, i + length));
    return length;
  } catch {
    return 0;
  }
}
