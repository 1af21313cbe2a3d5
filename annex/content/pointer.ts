import { isUtf8 } from "node:buffer";
import { parseAnnexKey } from "../../protocol/index.ts";

/**
 * How git holds an annexed file (Annex/Link.hs): an unlocked file's blob is a pointer `/annex/objects/<KEY>\n`;
 * a locked file (what plain `git annex add` makes) is a symlink whose target ends in `.git/annex/objects/<hashdirs>/<KEY>/<KEY>`.
 * git-annex only treats small blobs as pointers; anything larger is ordinary content.
 */
export const POINTER_PREFIX = "/annex/objects/";

export const MAX_POINTER_SIZE = 32 * 1024;

/**
 * Whether a blob of this size can be a pointer the agent wrote: the prefix plus a key (keys are never
 * shorter than 20 characters) and a newline, and keys stay far below 1 KiB. Lets a tree listing skip
 * reading blobs that cannot be pointers.
 */
export function mayBePointerSize(size: number): boolean {
  return size >= POINTER_PREFIX.length + 20 && size <= 1024;
}

export function formatPointer(key: string): string {
  parseAnnexKey(key);
  return `${POINTER_PREFIX}${key}\n`;
}

/**
 * The key an unlocked pointer blob names, or undefined when the text is not a pointer. As git-annex reads
 * it: one line, optionally ending in "\r\n" or "\n"; anything after that line makes it a file whose content
 * happens to start like a pointer, which must sync as content. A key that is not UTF-8 is no key here.
 */
export function parsePointer(text: string | Buffer): string | undefined {
  if (text.length > MAX_POINTER_SIZE) return undefined;
  if (typeof text !== "string" && !isUtf8(text)) return undefined;
  const line = text.toString("utf8").replace(/\r?\n$/, "");
  if (!line.startsWith(POINTER_PREFIX) || line.includes("\n")) return undefined;
  return validKey(line.slice(POINTER_PREFIX.length));
}

/** The key a locked file's symlink target names, or undefined. */
export function parseSymlinkTarget(target: string): string | undefined {
  const parts = target.split("/");
  const objects = parts.lastIndexOf("objects");
  if (objects < 1 || parts[objects - 1] !== "annex" || parts.length < objects + 3) return undefined;
  const key = parts.at(-1)!;
  return parts.at(-2) === key ? validKey(key) : undefined;
}

function validKey(text: string): string | undefined {
  try {
    parseAnnexKey(text);
    return text;
  } catch {
    return undefined;
  }
}
