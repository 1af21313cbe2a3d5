import { execFileSync } from "node:child_process";

/**
 * Builds, in the repository at `gitDir`, a commit whose tree no honest git would write, next to one
 * ordinary file (`ok.txt`). Raw tree objects are written with `hash-object --literally`, as someone with
 * write access to the bucket could. Entries, each optional:
 * - `absolutePath`: an entry whose name holds slashes and starts with one (git reads it back as that path);
 * - `dotdot`: a directory named `..` holding `escaped.txt`;
 * - `dotgit`: `.git/hooks/post-commit`;
 * - `symlinkOut`: `link-out`, a symlink to `../../../../../../tmp`;
 * - `longName`: a file whose name is 300 bytes, longer than Linux file systems allow.
 */
export interface HostileEntries {
  absolutePath?: string;
  dotdot?: boolean;
  dotgit?: boolean;
  symlinkOut?: boolean;
  longName?: boolean;
}

export function hostileCommit(gitDir: string, entries: HostileEntries, parent?: string): string {
  const git = (args: string[], input?: Buffer | string) =>
    execFileSync("git", args, { input, env: { ...process.env, GIT_DIR: gitDir } })
      .toString()
      .trim();
  const blob = (text: string) => git(["hash-object", "-w", "--stdin"], text);
  const tree = (items: Array<[mode: string, name: string, oid: string]>) => {
    const sorted = [...items].sort(([, a], [, b]) => (a < b ? -1 : 1));
    const parts = sorted.map(([mode, name, oid]) => Buffer.concat([Buffer.from(`${mode} ${name}\0`), Buffer.from(oid, "hex")]));
    return git(["hash-object", "-t", "tree", "-w", "--literally", "--stdin"], Buffer.concat(parts));
  };
  const evil = blob("pwned\n");
  const items: Array<[string, string, string]> = [["100644", "ok.txt", blob("fine\n")]];
  if (entries.absolutePath) {
    if (!entries.absolutePath.startsWith("/")) throw new Error("absolutePath must be absolute");
    items.push(["100644", entries.absolutePath, evil]);
  }
  if (entries.dotdot) items.push(["40000", "..", tree([["100644", "escaped.txt", evil]])]);
  if (entries.dotgit) {
    const hooks = tree([["100755", "post-commit", blob("#!/bin/sh\necho pwned > /tmp/cloudbridge-pwned\n")]]);
    items.push(["40000", ".git", tree([["40000", "hooks", hooks]])]);
  }
  if (entries.symlinkOut) items.push(["120000", "link-out", blob("../../../../../../tmp")]);
  if (entries.longName) items.push(["100644", "n".repeat(300), evil]);
  return git(["commit-tree", tree(items), ...(parent ? ["-p", parent] : []), "-m", "hostile"], "");
}

/** One entry of `rawCommit`: a file's content, or a symlink's target. */
export type RawEntry = { file: string } | { symlink: string };

/**
 * A commit of exactly these entries ("/"-separated paths; each name may hold any byte but "/" and NUL,
 * newlines and carriage returns included), written as raw objects the way someone with write access to
 * the bucket could, with any author and message.
 */
export function rawCommit(
  gitDir: string,
  entries: Record<string, RawEntry>,
  options: { parent?: string; author?: string; message?: string } = {},
): string {
  const git = (args: string[], input?: Buffer | string) =>
    execFileSync("git", args, { input, env: { ...process.env, GIT_DIR: gitDir } })
      .toString()
      .trim();
  const write = (type: string, body: Buffer | string) => git(["hash-object", "-t", type, "-w", "--literally", "--stdin"], body);
  type Node = Map<string, Node | RawEntry>;
  const root: Node = new Map();
  for (const [path, entry] of Object.entries(entries)) {
    const parts = path.split("/");
    let node = root;
    for (const part of parts.slice(0, -1)) {
      if (!node.has(part)) node.set(part, new Map());
      node = node.get(part) as Node;
    }
    node.set(parts.at(-1)!, entry);
  }
  const tree = (node: Node): string => {
    const items = [...node].map(([name, value]): [string, string, string] =>
      value instanceof Map
        ? ["40000", name, tree(value)]
        : "file" in value
          ? ["100644", name, write("blob", value.file)]
          : ["120000", name, write("blob", value.symlink)],
    );
    // git's order: by name, a tree compared as if its name ended in "/".
    const key = ([mode, name]: [string, string, string]) => Buffer.from(mode === "40000" ? `${name}/` : name);
    items.sort((a, b) => Buffer.compare(key(a), key(b)));
    return write(
      "tree",
      Buffer.concat(items.map(([mode, name, oid]) => Buffer.concat([Buffer.from(`${mode} ${name}\0`), Buffer.from(oid, "hex")]))),
    );
  };
  const author = `${options.author ?? "Mallory"} <mallory@example.com> 1764363600 +0000`;
  const body = [
    `tree ${tree(root)}`,
    ...(options.parent ? [`parent ${options.parent}`] : []),
    `author ${author}`,
    `committer ${author}`,
    "",
    options.message ?? "hostile",
    "",
  ];
  return write("commit", body.join("\n"));
}
