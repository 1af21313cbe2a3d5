import { spawn } from "node:child_process";
import { hashObjectFiles, runGit } from "../../gitstore/run-git.ts";

/**
 * Native git for one repository (DESIGN.md: isomorphic-git is far too slow for the agent's hot paths),
 * through gitstore's runner; `env` carries e.g. a commit identity or a scratch GIT_INDEX_FILE.
 */
export class GitError extends Error {
  readonly exitCode: number | null;
  readonly stderr: string;
  constructor(args: readonly string[], exitCode: number | null, stderr: string) {
    super(`git ${args.slice(0, 3).join(" ")} failed (exit ${exitCode}): ${stderr.trim().split("\n").slice(-3).join(" / ")}`);
    this.name = "GitError";
    this.exitCode = exitCode;
    this.stderr = stderr;
  }
}

export interface GitRunOptions {
  input?: string | Buffer;
  env?: Record<string, string>;
  /** Exit codes that are answers rather than failures (e.g. 1 for `merge-base --is-ancestor`). */
  okCodes?: number[];
}

export class Git {
  readonly gitDir: string;
  readonly workTree: string | undefined;
  private readonly baseEnv: Record<string, string>;

  constructor(gitDir: string, options: { workTree?: string; env?: Record<string, string> } = {}) {
    this.gitDir = gitDir;
    this.workTree = options.workTree;
    this.baseEnv = options.env ?? {};
  }

  /** A Git on the same repository with extra environment (a private index, an author). */
  with(env: Record<string, string>): Git {
    return new Git(this.gitDir, { ...(this.workTree ? { workTree: this.workTree } : {}), env: { ...this.baseEnv, ...env } });
  }

  async run(args: string[], options: GitRunOptions = {}): Promise<{ stdout: Buffer; code: number }> {
    const result = await runGit(args, {
      gitDir: this.gitDir,
      env: { ...(this.workTree ? { GIT_WORK_TREE: this.workTree } : {}), LC_ALL: "C", ...this.baseEnv, ...options.env },
      ...(options.input !== undefined ? { input: options.input } : {}),
      allowFailure: true,
    });
    if (result.code === 0 || options.okCodes?.includes(result.code)) return { stdout: result.stdout, code: result.code };
    throw new GitError(args, result.code, result.stderr);
  }

  /** stdout as text without the trailing newline. */
  async text(args: string[], options: GitRunOptions = {}): Promise<string> {
    return (await this.run(args, options)).stdout.toString().replace(/\n$/, "");
  }

  async revParse(rev: string): Promise<string | undefined> {
    const { stdout, code } = await this.run(["rev-parse", "--verify", "--quiet", `${rev}^{commit}`], { okCodes: [1, 128] });
    return code === 0 ? stdout.toString().trim() : undefined;
  }

  async isAncestor(ancestor: string, descendant: string): Promise<boolean> {
    const { code } = await this.run(["merge-base", "--is-ancestor", ancestor, descendant], { okCodes: [1] });
    return code === 0;
  }

  async mergeBase(a: string, b: string): Promise<string | undefined> {
    const { stdout, code } = await this.run(["merge-base", a, b], { okCodes: [1] });
    return code === 0 ? stdout.toString().trim() : undefined;
  }

  async updateRef(ref: string, oid: string, oldOid?: string): Promise<void> {
    await this.run(["update-ref", ref, oid, ...(oldOid !== undefined ? [oldOid] : [])]);
  }

  async config(key: string): Promise<string | undefined> {
    const { stdout, code } = await this.run(["config", "--get", key], { okCodes: [1] });
    return code === 0 ? stdout.toString().trim() : undefined;
  }

  async setConfig(key: string, value: string): Promise<void> {
    await this.run(["config", key, value]);
  }

  /** Writes blobs for many files at once, in the order given (paths as arguments: never split on a newline). */
  async hashFiles(paths: string[]): Promise<string[]> {
    try {
      return await hashObjectFiles(paths, { gitDir: this.gitDir, env: { LC_ALL: "C", ...this.baseEnv } });
    } catch (error) {
      throw new GitError(["hash-object", "-w", "--no-filters"], null, (error as Error).message);
    }
  }

  async hashBlob(content: Buffer | string): Promise<string> {
    return this.text(["hash-object", "-w", "--stdin"], { input: content });
  }

  /** Every file of a tree (or commit): path → {mode, oid}. Paths are raw bytes decoded as UTF-8 only when valid. */
  async lsTree(treeish: string): Promise<Map<string, TreeEntry>> {
    const { stdout } = await this.run(["ls-tree", "-r", "-z", "--full-tree", treeish]);
    return parseLsTree(stdout);
  }
}

export interface TreeEntry {
  mode: string;
  oid: string;
  /** True when the raw path bytes were not valid UTF-8 (such a name is refused before it reaches a disk). */
  badEncoding?: boolean;
}

const decoder = new TextDecoder("utf-8", { fatal: true });

export function parseLsTree(stdout: Buffer): Map<string, TreeEntry> {
  const entries = new Map<string, TreeEntry>();
  let start = 0;
  while (start < stdout.length) {
    const end = stdout.indexOf(0, start);
    const record = stdout.subarray(start, end < 0 ? stdout.length : end);
    start = end < 0 ? stdout.length : end + 1;
    const tab = record.indexOf(9);
    const [mode, type, oid] = record.subarray(0, tab).toString().split(" ");
    if (type !== "blob" && type !== "commit") continue;
    const rawPath = record.subarray(tab + 1);
    let path: string;
    let badEncoding = false;
    try {
      path = decoder.decode(rawPath);
    } catch {
      path = rawPath.toString("latin1");
      badEncoding = true;
    }
    entries.set(path, { mode: mode!, oid: oid!, ...(badEncoding ? { badEncoding } : {}) });
  }
  return entries;
}

/** Reads many blobs through one `git cat-file --batch` process. */
export class BlobReader {
  private readonly child;
  private buffer = Buffer.alloc(0);
  private waiting: Array<{ resolve: (b: Buffer | undefined) => void; reject: (e: Error) => void }> = [];
  private closed = false;

  constructor(git: Git) {
    this.child = spawn("git", ["cat-file", "--batch"], {
      env: { ...process.env, GIT_DIR: git.gitDir, LC_ALL: "C" },
      stdio: ["pipe", "pipe", "ignore"],
    });
    this.child.stdout.on("data", (chunk: Buffer) => {
      this.buffer = Buffer.concat([this.buffer, chunk]);
      this.drain();
    });
    this.child.on("close", () => {
      this.closed = true;
      for (const w of this.waiting.splice(0)) w.reject(new Error("git cat-file --batch exited early"));
    });
  }

  read(oid: string): Promise<Buffer | undefined> {
    if (this.closed) return Promise.reject(new Error("git cat-file --batch is closed"));
    return new Promise((resolve, reject) => {
      this.waiting.push({ resolve, reject });
      this.child.stdin.write(`${oid}\n`);
    });
  }

  private drain(): void {
    while (this.waiting.length > 0) {
      const newline = this.buffer.indexOf(10);
      if (newline < 0) return;
      const header = this.buffer.subarray(0, newline).toString();
      if (header.endsWith(" missing")) {
        this.buffer = this.buffer.subarray(newline + 1);
        this.waiting.shift()!.resolve(undefined);
        continue;
      }
      const size = Number(header.split(" ")[2]);
      if (this.buffer.length < newline + 1 + size + 1) return;
      const body = Buffer.from(this.buffer.subarray(newline + 1, newline + 1 + size));
      this.buffer = this.buffer.subarray(newline + 1 + size + 1);
      this.waiting.shift()!.resolve(body);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await new Promise<void>((resolve) => {
      this.child.once("close", () => resolve());
      this.child.stdin.end();
    });
  }
}
