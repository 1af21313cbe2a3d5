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
