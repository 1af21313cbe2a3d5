import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import {
  BlobReader,
  diffTrees,
  editTree,
  Git,
  gitText,
  hashObjectFiles,
  isAncestor,
  joinNul,
  readObjects,
  resolveCommit,
  swapRef,
  TreeEditConflict,
} from "../../localgit/index.ts";
import { unionMergeLines } from "./union-merge.ts";

/**
 * The `git-annex` branch of a local repository, read and written with native git plumbing: a change
 * writes the new files and the trees on their way into the parent's tree (or, where this process does not
 * write the repository's objects itself, builds the tree in a private index) and moves the ref with
 * compare-and-swap (`update-ref new old`), so two processes changing the branch at once both land (the
 * loser re-reads and re-applies). Merging another copy of the branch is git-annex's union merge, which
 * never conflicts.
 */
export const ANNEX_BRANCH = "refs/heads/git-annex";

export type FileChange = (old: string | undefined) => string | undefined;

export class AnnexBranch {
  readonly gitDir: string;
  readonly ref: string;
  /** Files of another copy of the branch that a union merge leaves out (the agent's: branch-paths.ts); none by default. */
  skipPath: ((path: string) => boolean) | undefined;

  private readonly git: Git;

  constructor(gitDir: string, ref = ANNEX_BRANCH) {
    this.gitDir = gitDir;
    this.ref = ref;
    this.git = new Git(gitDir);
  }

  async head(): Promise<string | undefined> {
    return resolveCommit(this.gitDir, this.ref);
  }

  /** A file's content at `commit` (default: the branch head), or undefined when it is not there. */
  async read(path: string, commit?: string): Promise<string | undefined> {
    const at = commit ?? (await this.head());
    if (!at) return undefined;
    const [content] = await this.readMany([path], at);
    return content;
  }

  /**
   * Applies `changes` (path → new content from old; undefined leaves the file alone) as one commit.
   * Returns the new head, or the old one when nothing changed. `reader`: a `cat-file` kept by a caller
   * that makes many changes in a row (a batch of transfers, a commit per wave): the old files and the
   * trees are read through it instead of two git processes started for each change.
   */
  async change(message: string, changes: ReadonlyMap<string, FileChange>, reader?: BlobReader): Promise<string | undefined> {
    for (let attempt = 0; ; attempt++) {
      const parent = await this.head();
      const paths = [...changes.keys()];
      const olds = await this.readMany(paths, parent, reader);
      const updates: Array<{ path: string; content: string }> = [];
      paths.forEach((path, i) => {
        const content = changes.get(path)!(olds[i]);
        if (content !== undefined && content !== olds[i]) updates.push({ path, content });
      });
      if (updates.length === 0) return parent;
      const commit = await this.commitFiles(parent, parent ? [parent] : [], updates, message, reader);
      if (await this.compareAndSwap(commit, parent)) return commit;
      if (attempt >= 20) throw new Error(`The ${this.ref} branch kept changing under us; try again.`);
    }
  }

  /**
   * The union merge of two commits of the git-annex branch (git-annex's rule: every file's lines from
   * both sides), as a merge commit; a fast-forward when one contains the other. Pure with respect to refs:
   * usable as the merge callback of a compare-and-swap push.
   */
  async unionMerge(ours: string | undefined, theirs: string | undefined): Promise<string | undefined> {
    if (!ours || ours === theirs) return theirs ?? ours;
    if (!theirs) return ours;
    if (await isAncestor(this.gitDir, theirs, ours)) return ours;
    if (await isAncestor(this.gitDir, ours, theirs)) return theirs;
    const paths = (await diffTrees(this.gitDir, ours, theirs)).map((change) => change.path).filter((path) => !this.skipPath?.(path));
    const [a, b] = await Promise.all([this.readMany(paths, ours), this.readMany(paths, theirs)]);
    const merged = paths.map((path, i) => ({ path, content: unionMergeLines(a[i] ?? "", b[i] ?? "") }));
    return this.commitFiles(ours, [ours, theirs], merged, "merging git-annex branches (union)");
  }

  /** Merges `theirs` (a fetched copy of the branch) into the local branch. */
  async mergeFrom(theirs: string): Promise<string | undefined> {
    for (let attempt = 0; attempt < 20; attempt++) {
      const ours = await this.head();
      const merged = await this.unionMerge(ours, theirs);
      if (merged === ours) return ours;
      if (await this.compareAndSwap(merged!, ours)) return merged;
    }
    throw new Error(`The ${this.ref} branch kept changing under us while merging; try again.`);
  }

  /** Moves the branch from `old` (undefined: it must not exist) to `commit`; false when it had moved. */
  async compareAndSwap(commit: string, old: string | undefined): Promise<boolean> {
    return swapRef(this.gitDir, this.ref, commit, old);
  }

  /**
   * Many files at once (one `git cat-file --batch`, or `reader`'s); undefined for a path that is not
   * there. A kept reader takes names a line each, so a path with a newline goes through a `-z` process.
   */
  async readMany(paths: readonly string[], commit: string | undefined, reader?: BlobReader): Promise<Array<string | undefined>> {
    if (!commit || paths.length === 0) return paths.map(() => undefined);
    const names = paths.map((p) => `${commit}:${p}`);
    const contents =
      reader && !names.some((name) => name.includes("\n"))
        ? (await Promise.all(names.map((name) => reader.readObject(name)))).map((object) =>
            object?.type === "blob" ? object.body : undefined,
          )
        : await readObjects(this.gitDir, names);
    return contents.map((content) => content?.toString("utf8"));
  }

  /**
   * A commit (refs are not touched) of `base`'s tree with `files` written, whose parents are `parents`.
   * A few files (a transfer's record, the usual change) are written here with the trees on their way:
   * three git processes a record (the old files read, the tree reader, the ref's compare-and-swap) where the index takes
   * seven, each costing more the larger the daemon that starts it. Many files (a merge after a long time
   * apart), or a repository whose objects this process does not write, go through git's index.
   */
  private async commitFiles(
    base: string | undefined,
    parents: string[],
    files: ReadonlyArray<{ path: string; content: string }>,
    message: string,
    reader?: BlobReader,
  ): Promise<string> {
    const tree = (await this.editedTree(base, files, reader)) ?? (await this.indexedTree(base, files));
    return this.git.commitTree(tree, parents, message);
  }

  /** `base`'s tree with `files` written into it directly; undefined when that is not for this process to do. */
  private async editedTree(
    base: string | undefined,
    files: ReadonlyArray<{ path: string; content: string }>,
    kept?: BlobReader,
  ): Promise<string | undefined> {
    if (!base || files.length > EDITED_IN_PLACE || !(await this.git.writesObjectsHere())) return undefined;
    // Written side by side: each blob is a few file-system calls, which libuv's threads make in parallel.
    const oids = await Promise.all(files.map(({ content }) => this.git.hashBlob(content)));
    const edits = new Map(files.map(({ path }, i) => [path, { mode: "100644", oid: oids[i]! }]));
    const reader = kept ?? new BlobReader(this.gitDir);
    try {
      return await editTree(this.gitDir, reader, `${base}^{tree}`, edits);
    } catch (error) {
      // A file where the branch has a folder, or the other way round: git's index says what is wrong.
      if (error instanceof TreeEditConflict) return undefined;
      throw error;
    } finally {
      if (!kept) await reader.close();
    }
  }

  /** `base`'s tree (empty when undefined) with `files` written, built in a private index. */
  private async indexedTree(base: string | undefined, files: ReadonlyArray<{ path: string; content: string }>): Promise<string> {
    const blobs = await this.writeBlobs(files.map((f) => f.content));
    return this.withIndex(base, async (env) => {
      const info = joinNul(files.map((f, i) => `100644 ${blobs[i]}\t${f.path}`));
      await gitText(["update-index", "-z", "--add", "--index-info"], { gitDir: this.gitDir, env, input: info });
      return await gitText(["write-tree"], { gitDir: this.gitDir, env });
    });
  }

  /** Writes blobs (`git hash-object` over temporary files) and returns their ids in order. */
  private async writeBlobs(contents: readonly string[]): Promise<string[]> {
    await mkdir(join(this.gitDir, "annex", "cloudbridge"), { recursive: true });
    const dir = await mkdtemp(join(this.gitDir, "annex", "cloudbridge", "blobs-"));
    try {
      const files = contents.map((_, i) => join(dir, String(i)));
      await Promise.all(contents.map((content, i) => writeFile(files[i]!, content)));
      return await hashObjectFiles(files, { gitDir: this.gitDir });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  /** Runs `work` with a private index file loaded from `commit` (empty when undefined), then removes it. */
  private async withIndex<T>(commit: string | undefined, work: (env: Record<string, string>) => Promise<T>): Promise<T> {
    const dir = join(this.gitDir, "annex", "cloudbridge");
    await mkdir(dir, { recursive: true });
    const index = join(dir, `index.${process.pid}.${randomBytes(4).toString("hex")}`);
    const env = { GIT_INDEX_FILE: index };
    try {
      await gitText(commit ? ["read-tree", commit] : ["read-tree", "--empty"], { gitDir: this.gitDir, env });
      return await work(env);
    } finally {
      await rm(index, { force: true });
    }
  }
}

/**
 * Up to this many files, a change is written into its parent's tree directly (see commitFiles). Alone, a
 * change of 128-256 files is quicker this way too (on a branch of 2,000 keys, blobs and trees written side
 * by side: 128 files 165-192 ms against 275-346 through the index); but here this process hashes and
 * compresses every object on its one thread, where git's do it beside it, and a batch's records are
 * written while its transfers run on that thread.
 */
const EDITED_IN_PLACE = 64;
