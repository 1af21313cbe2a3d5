import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { COMMIT_ENV, commitTree, DEFAULT_IDENTITY, identityEnv, isPlainIdentity, writeCommit, type CommitIdentity } from "./commit.ts";
import { getConfig, readConfig, setConfig } from "./config.ts";
import { hashObjectFiles, writeLooseObject } from "./objects.ts";
import { isAncestor, mergeBase, resolveCommit, updateRef } from "./refs.ts";
import { gitFailed, runGit } from "./run.ts";
import { parseDiffTree, parseLsTree, type TreeChange, type TreeEntry } from "./tree.ts";

export interface GitRunOptions {
  input?: string | Buffer;
  env?: Record<string, string>;
  /** Exit codes that are answers rather than failures (e.g. 1 for `merge-base --is-ancestor`). */
  okCodes?: number[];
}

/**
 * One local repository, for the agent's hot paths (native git: isomorphic-git is far too slow there).
 * `env` carries e.g. a scratch GIT_INDEX_FILE; `identity` is who its commits are by.
 */
export class Git {
  readonly gitDir: string;
  readonly workTree: string | undefined;
  readonly identity: CommitIdentity;
  private readonly baseEnv: Record<string, string>;

  constructor(gitDir: string, options: { workTree?: string; env?: Record<string, string>; identity?: CommitIdentity } = {}) {
    this.gitDir = gitDir;
    this.workTree = options.workTree;
    this.identity = options.identity ?? DEFAULT_IDENTITY;
    this.baseEnv = options.env ?? {};
  }

  /** A Git on the same repository with extra environment (a private index). */
  with(env: Record<string, string>): Git {
    return new Git(this.gitDir, {
      ...(this.workTree ? { workTree: this.workTree } : {}),
      env: { ...this.baseEnv, ...env },
      identity: this.identity,
    });
  }

  async run(args: string[], options: GitRunOptions = {}): Promise<{ stdout: Buffer; code: number }> {
    const result = await runGit(args, {
      gitDir: this.gitDir,
      env: { ...(this.workTree ? { GIT_WORK_TREE: this.workTree } : {}), ...identityEnv(this.identity), ...this.baseEnv, ...options.env },
      ...(options.input !== undefined ? { input: options.input } : {}),
      allowFailure: true,
    });
    if (result.code === 0 || options.okCodes?.includes(result.code)) return { stdout: result.stdout, code: result.code };
    throw gitFailed(args, result);
  }

  /** stdout as text without the trailing newline. */
  async text(args: string[], options: GitRunOptions = {}): Promise<string> {
    return (await this.run(args, options)).stdout.toString().replace(/\n$/, "");
  }

  async revParse(rev: string): Promise<string | undefined> {
    return resolveCommit(this.gitDir, rev);
  }

  async isAncestor(ancestor: string, descendant: string): Promise<boolean> {
    return isAncestor(this.gitDir, ancestor, descendant);
  }

  async mergeBase(a: string, b: string): Promise<string | undefined> {
    return mergeBase(this.gitDir, a, b);
  }

  /** Moves `ref` to `oid`; with `oldOid`, only if it is there now ("" : only if the ref does not exist). */
  async updateRef(ref: string, oid: string, oldOid?: string): Promise<void> {
    await updateRef(this.gitDir, ref, oid, oldOid !== undefined ? { expected: oldOid } : {});
  }

  /** Writes a commit (without starting git when it can be written here exactly as `git commit-tree` would). */
  async commitTree(tree: string, parents: readonly string[], message: string): Promise<string> {
    const here = await this.writtenHere();
    const commit = { tree, parents, message };
    const env = { ...process.env, ...this.baseEnv };
    if (here?.commits && !COMMIT_ENV.some((name) => env[name] !== undefined) && isPlainIdentity(this.identity))
      return writeCommit(this.gitDir, commit, this.identity, here.format);
    return commitTree(this.gitDir, commit, this.identity);
  }

  async config(key: string): Promise<string | undefined> {
    return getConfig(this.gitDir, key);
  }

  async setConfig(key: string, value: string): Promise<void> {
    await setConfig(this.gitDir, key, value);
  }

  /**
   * Writes blobs for many files at once, in the order given (paths as arguments: never split on a newline).
   * A few files (a saved document, a watcher's burst) are hashed and written here, as `hash-object -w
   * --no-filters` would, without starting git: a process costs more than the hashing, and more the larger
   * this process is (spawning copies its page tables).
   */
  async hashFiles(paths: string[]): Promise<string[]> {
    if (paths.length <= HASHED_HERE) {
      const format = await this.objectFormat();
      if (format) {
        const oids: string[] = [];
        for (const path of paths) oids.push(await writeLooseObject(this.gitDir, "blob", await readFile(path), format));
        return oids;
      }
    }
    return hashObjectFiles(paths, { gitDir: this.gitDir, env: this.baseEnv });
  }

  async hashBlob(content: Buffer | string): Promise<string> {
    const format = await this.objectFormat();
    if (format) return writeLooseObject(this.gitDir, "blob", Buffer.from(content), format);
    return this.text(["hash-object", "-w", "--stdin"], { input: content });
  }

  /**
   * The repository's object format when objects can be written here as git would write them: SHA-1 or
   * SHA-256, objects in `<gitDir>/objects` (not a linked work tree's `.git` file, nor another object
   * directory named in the environment), no shared-repository permissions. Else undefined: git writes them.
   * Asked of git once per repository and process.
   */
  private async objectFormat(): Promise<"sha1" | "sha256" | undefined> {
    return (await this.writtenHere())?.format;
  }

  /** Whether this process writes the repository's objects itself, as git would (see objectFormat). */
  async writesObjectsHere(): Promise<boolean> {
    return (await this.writtenHere()) !== undefined;
  }

  private writtenHere(): Promise<WrittenHere | undefined> {
    if (this.baseEnv.GIT_OBJECT_DIRECTORY !== undefined || process.env.GIT_OBJECT_DIRECTORY !== undefined)
      return Promise.resolve(undefined);
    let known = writtenHereOf.get(this.gitDir);
    if (!known) {
      known = (async (): Promise<WrittenHere | undefined> => {
        if (!(await stat(join(this.gitDir, "objects")).catch(() => undefined))?.isDirectory()) return undefined;
        const config = await readConfig(this.gitDir);
        if (config.has("core.sharedrepository")) return undefined;
        const format = config.get("extensions.objectformat")?.at(-1) ?? "sha1";
        if (format !== "sha1" && format !== "sha256") return undefined;
        // A commit git would sign, or write in another encoding, is left to git.
        const signs = /^(true|yes|on|1)$/i.test(config.get("commit.gpgsign")?.at(-1) ?? "");
        return { format, commits: !signs && !config.has("i18n.commitencoding") };
      })().catch(() => undefined);
      writtenHereOf.set(this.gitDir, known);
    }
    return known;
  }

  /** Every file of a tree (or commit): path → {mode, oid[, size]}; see tree.ts for names that are not UTF-8. */
  async lsTree(treeish: string, options: { sizes?: boolean } = {}): Promise<Map<string, TreeEntry>> {
    const { stdout } = await this.run(["ls-tree", "-r", "-z", ...(options.sizes ? ["-l"] : []), "--full-tree", treeish]);
    return parseLsTree(stdout);
  }

  /** Files added, changed or deleted from tree `from` to `to`. */
  async diffTree(from: string, to: string): Promise<TreeChange[]> {
    return diffTrees(this.gitDir, from, to, this.baseEnv);
  }
}

/** Up to this many files, `hashFiles` writes the blobs itself. */
const HASHED_HERE = 16;

/** What of a repository's objects this process writes itself (and in which format). */
interface WrittenHere {
  format: "sha1" | "sha256";
  /** Commits too (not only blobs and trees). */
  commits: boolean;
}

/** Each repository's, asked once per process (none of it changes while the agent runs). */
const writtenHereOf = new Map<string, Promise<WrittenHere | undefined>>();

/**
 * Files added, changed or deleted from tree (or commit) `from` to `to`. Two trees need no index, yet
 * `diff-tree` reads the repository's whole (for attributes): at 100,000 files that read is nine tenths of
 * its time, so it is pointed at an index that does not exist (an empty one, to git).
 */
export async function diffTrees(gitDir: string, from: string, to: string, env: Record<string, string> = {}): Promise<TreeChange[]> {
  const { stdout } = await runGit(["diff-tree", "-r", "-z", "--no-renames", from, to], {
    gitDir,
    env: { ...env, GIT_INDEX_FILE: join(gitDir, "cloudbridge", "no-index") },
  });
  return parseDiffTree(stdout);
}
