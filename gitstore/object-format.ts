import { GitStoreError } from "./errors.ts";

/**
 * The links inside git objects (what a walk follows) and the tree-entry names that must never reach a
 * disk. Native git checks names with fsck; this is the same rule for engines without git's fsck.
 */
export type ObjectType = "commit" | "tree" | "blob" | "tag";

/** The ids an object points at; gitlinks (submodule commits, mode 160000) are not followed. */
export function objectLinks(type: ObjectType, content: Uint8Array, oid: string): string[] {
  if (type === "blob") return [];
  if (type === "tree") return parseTree(content, oid).flatMap((entry) => (entry.mode === "160000" ? [] : [entry.oid]));
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

export function parseTree(content: Uint8Array, oid: string): TreeEntry[] {
  const buffer = Buffer.from(content);
  const entries: TreeEntry[] = [];
  let at = 0;
  while (at < buffer.length) {
    const space = buffer.indexOf(0x20, at);
    const nul = buffer.indexOf(0, space + 1);
    if (space < 0 || nul < 0 || nul + 21 > buffer.length) {
      throw new GitStoreError("corrupt-pack", `The tree ${oid} is malformed (an entry is cut short).`);
    }
    const entry = {
      mode: buffer.toString("latin1", at, space),
      name: buffer.toString("utf8", space + 1, nul),
      oid: buffer.toString("hex", nul + 1, nul + 21),
    };
    assertSafeEntryName(entry.name, oid);
    entries.push(entry);
    at = nul + 21;
  }
  return entries;
}

/** Refuses "", ".", "..", ".git" (in any case, as git does for case-insensitive disks) and names with "/". */
export function assertSafeEntryName(name: string, tree: string): void {
  const lower = name.toLowerCase().replace(/[. ]+$/, "");
  if (name === "" || name === "." || name === ".." || lower === ".git" || name.includes("/") || name.includes("\\")) {
    throw new GitStoreError(
      "unsafe-tree-entry",
      `The tree ${tree} has an entry named ${JSON.stringify(name)}, which could write outside the folder or into .git; ` +
        "it was refused and nothing was changed locally.",
    );
  }
}
