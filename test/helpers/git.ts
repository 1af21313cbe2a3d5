import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gitText, runGit } from "../../localgit/index.ts";

/** git with a fixed identity and no user or system configuration, so tests do not depend on the machine. */
export const GIT_ENV = {
  GIT_AUTHOR_NAME: "Test",
  GIT_AUTHOR_EMAIL: "test@example.com",
  GIT_COMMITTER_NAME: "Test",
  GIT_COMMITTER_EMAIL: "test@example.com",
  GIT_CONFIG_NOSYSTEM: "1",
  GIT_CONFIG_GLOBAL: "/dev/null",
};

export function git(cwd: string, ...args: string[]): Promise<string> {
  return gitText(args, { cwd, env: GIT_ENV });
}

export async function gitInput(cwd: string, input: string | Buffer, ...args: string[]): Promise<string> {
  return (await runGit(args, { cwd, env: GIT_ENV, input })).stdout.toString().trim();
}

export async function tempDir(prefix: string): Promise<{ path: string; remove(): Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), `cloudbridge-${prefix}-`));
  return { path, remove: () => rm(path, { recursive: true, force: true }) };
}

/** A new repository with a work tree on branch main; returns its git directory. */
export async function initRepo(dir: string): Promise<string> {
  await git(dir, "init", "-q", "-b", "main", ".");
  return join(dir, ".git");
}

export async function commitFile(dir: string, path: string, content: string, message = `change ${path}`): Promise<string> {
  const { writeFile, mkdir } = await import("node:fs/promises");
  const { dirname } = await import("node:path");
  await mkdir(dirname(join(dir, path)), { recursive: true });
  await writeFile(join(dir, path), content);
  await git(dir, "add", "--", path);
  await git(dir, "commit", "-q", "-m", message);
  return git(dir, "rev-parse", "HEAD");
}

/**
 * `count` commits on `branch` with one process (git fast-import) instead of one per commit. Commit i
 * writes `files(i)`; each commit builds on the branch's current tip.
 */
export async function importCommits(
  dir: string,
  branch: string,
  count: number,
  files: (i: number) => Record<string, string>,
): Promise<string> {
  const ref = `refs/heads/${branch}`;
  const parent = await runGit(["rev-parse", "--verify", "-q", ref], { cwd: dir, allowFailure: true });
  const lines: string[] = [];
  let time = 1_700_000_000;
  for (let i = 0; i < count; i++) {
    const message = `commit ${i}`;
    lines.push(`commit ${ref}`, `committer Test <test@example.com> ${time++} +0000`, `data ${Buffer.byteLength(message)}`, message);
    if (i === 0 && parent.code === 0) lines.push(`from ${parent.stdout.toString().trim()}`);
    for (const [path, content] of Object.entries(files(i))) {
      lines.push(`M 100644 inline ${path}`, `data ${Buffer.byteLength(content)}`, content);
    }
    lines.push("");
  }
  await gitInput(dir, `${lines.join("\n")}\n`, "fast-import", "--quiet");
  return git(dir, "rev-parse", ref);
}

/** Every ref and every pack file of a local repository, to show that a failed operation changed nothing. */
export async function snapshot(gitDir: string): Promise<string> {
  const { readdir } = await import("node:fs/promises");
  const refs = await gitText(["for-each-ref", "--format=%(objectname) %(refname)"], { gitDir });
  const packs = (await readdir(join(gitDir, "objects", "pack"))).sort().join(",");
  const objectDirs = (await readdir(join(gitDir, "objects"))).sort().join(",");
  return `${refs}\n${packs}\n${objectDirs}`;
}
