import { execFileSync } from "node:child_process";

/**
 * Builds, in the repository at `gitDir`, a commit whose tree no honest git would write: entries named
 * `..`, an empty name (an absolute path once joined), `.git/hooks/…`, a symlink out of the folder and a
 * name longer than the file system allows, next to one ordinary file. Raw tree objects are written with
 * `hash-object --literally`, as an attacker with write access to the bucket could. An entry whose name
 * holds slashes and starts with one (`absolutePath`) reads back from git as that absolute path.
 */
export function hostileCommit(gitDir: string, absolutePath: string, parent?: string): string {
  const git = (args: string[], input?: Buffer | string) =>
    execFileSync("git", args, { input, env: { ...process.env, GIT_DIR: gitDir } })
      .toString()
      .trim();
  const blob = (text: string) => git(["hash-object", "-w", "--stdin"], text);
  const tree = (entries: Array<[mode: string, name: string, oid: string]>) => {
    const parts = entries.map(([mode, name, oid]) => Buffer.concat([Buffer.from(`${mode} ${name}\0`), Buffer.from(oid, "hex")]));
    return git(["hash-object", "-t", "tree", "-w", "--literally", "--stdin"], Buffer.concat(parts));
  };
  if (!absolutePath.startsWith("/")) throw new Error("absolutePath must be absolute");
  const evil = blob("pwned\n");
  const hooks = tree([["100755", "post-commit", blob("#!/bin/sh\necho pwned > /tmp/cloudbridge-pwned\n")]]);
  const dotGit = tree([["40000", "hooks", hooks]]);
  const root = tree([
    ["100644", absolutePath, evil],
    ["40000", "..", tree([["100644", "escaped.txt", evil]])],
    ["40000", ".git", dotGit],
    ["120000", "link-out", blob("../../../../../../tmp")],
    ["100644", "n".repeat(300), evil],
    ["100644", "ok.txt", blob("fine\n")],
  ]);
  return git(["commit-tree", root, ...(parent ? ["-p", parent] : []), "-m", "hostile"], "");
}
