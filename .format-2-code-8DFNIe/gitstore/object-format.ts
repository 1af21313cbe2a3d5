import { isUtf8 } from "node:buffer";
import { GitStoreError } from "./errors.ts";

/**
 * The links inside git objects (what a walk follows) and the tree-entry names that must never reach a
 * disk. Native git checks names with fsck; this is the same rule for engines without git's fsck.
 */
export type ObjectType = "commit" | "tree" | "blob" | "tag";

/** The ids an object points at; gitlinks (submodule commits, mode 160000) are not followed. */
export function objectLinks(type: ObjectType, content: Uint8Array, oid: string): string[] {
  if (type === "blob") return [];
  // Names matter here only for the safety check: a name that is not UTF-8 is checked as bytes and walked too.
  if (type === "tree") return readTree(content, oid, false).flatMap((entry) => (entry.mode === "160000" ? [] : [entry.oid]));
  const text = Buffer.from(content).toString("latin1");
  const headerEnd = text.indexOf("\n\n");
  const links: string[] = [];
  for (const line of (headerEnd < 0 ? text : text.slice(0, headerEnd)).split("\n")) {
    const match = /^(tree|parent|object) ([0-9a-f]{40})$/.exec(line);
    if (match) links.push(match[2]!);
  }
  return links;
}

export interface TreeEntry {
  mode: string;
  name: string;
  oid: string;
}

/** A tree's entries; a name that is not valid UTF-8 is refused (as U+FFFD, two such names would read the same). */
export function parseTree(content: Uint8Array, oid: string): TreeEntry[] {
  return readTree(content, oid, true);
}

function readTree(content: Uint8Array, oid: string, utf8Names: boolean): TreeEntry[] {
  const buffer = Buffer.from(content);
  const entries: TreeEntry[] = [];
  let at = 0;
  while (at < buffer.length) {
    const space = buffer.indexOf(0x20, at);
    const nul = buffer.indexOf(0, space + 1);
    if (space < 0 || nul < 0 || nul + 21 > buffer.length) {
      throw new GitStoreError("corrupt-pack", `The tree ${oid} is malformed (an entry is cut short).`);
    }
    const isText = isUtf8(buffer.subarray(space + 1, nul));
    const entry = {
      mode: buffer.toString("latin1", at, space),
      name: buffer.toString(isText ? "utf8" : "latin1", space + 1, nul),
      oid: buffer.toString("hex", nul + 1, nul + 21),
    };
    // git reads the mode as octal digits up to the space; anything else is not a tree entry.
    if (!/^[0-7]{1,7}$/.test(entry.mode)) {
      throw new GitStoreError(
        "corrupt-pack",
        `The tree ${oid} is malformed (an entry's mode ${JSON.stringify(entry.mode.slice(0, 20))} is not octal).`,
      );
    }
    if (utf8Names && !isText) {
      throw new GitStoreError(
        "unsafe-tree-entry",
        `The tree ${oid} has an entry named ${JSON.stringify(entry.name)} that is not valid UTF-8, which cloudbridge cannot represent; it was refused.`,
      );
    }
    assertSafeEntryName(entry.name, oid);
    entries.push(entry);
    at = nul + 21;
  }
  return entries;
}

/**
 * Refuses "", ".", "..", names with "/" or "\\", and ".git" as git's fsck sees it on any disk: in any case,
 * with trailing dots or spaces (NTFS), with characters HFS+ ignores, or as its NTFS short name "git~1".
 */
export function assertSafeEntryName(name: string, tree: string): void {
  const lower = name
    .toLowerCase()
    .replace(/[\u200c-\u200f\u202a-\u202e\u206a-\u206f\ufeff]/g, "")
    .replace(/[. ]+$/, "");
  const dotGit = lower === ".git" || lower === "git~1";
  if (name === "" || name === "." || name === ".." || dotGit || name.includes("/") || name.includes("\\")) {
    throw new GitStoreError(
      "unsafe-tree-entry",
      `The tree ${tree} has an entry named ${JSON.stringify(name)}, which could write outside the folder or into .git; ` +
        "it was refused and nothing was changed locally.",
    );
  }
}
