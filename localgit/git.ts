import { commitTree, DEFAULT_IDENTITY, identityEnv, type CommitIdentity } from "./commit.ts";
import { getConfig, setConfig } from "./config.ts";
import { hashObjectFiles } from "./objects.ts";
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

  async commitTree(tree: string, parents: readonly string[], message: string): Promise<string> {
    return commitTree(this.gitDir, { tree, parents, message }, this.identity);
  }

  async config(key: string): Promise<string | undefined> {
    return getConfig(this.gitDir, key);
  }

  async setConfig(key: string, value: string): Promise<void> {
    await setConfig(this.gitDir, key, value);
  }

  /** Writes blobs for many files at once, in the order given (paths as arguments: never split on a newline). */
  async hashFiles(paths: string[]): Promise<string[]> {
    return hashObjectFiles(paths, { gitDir: this.gitDir, env: this.baseEnv });
  }

  async hashBlob(content: Buffer | string): Promise<string> {
    return this.text(["hash-object", "-w", "--stdin"], { input: content });
  }

  /** Every file of a tree (or commit): path → {mode, oid[, size]}; see tree.ts for names that are not UTF-8. */
  async lsTree(treeish: string, options: { sizes?: boolean } = {}): Promise<Map<string, TreeEntry>> {
    const { stdout } = await this.run(["ls-tree", "-r", "-z", ...(options.sizes ? ["-l"] : []), "--full-tree", treeish]);
    return parseLsTree(stdout);
  }

  /** Files added, changed or deleted from tree `from` to `to`. */
  async diffTree(from: string, to: string): Promise<TreeChange[]> {
    const { stdout } = await this.run(["diff-tree", "-r", "-z", "--no-renames", from, to]);
    return parseDiffTree(stdout);
  }
}
