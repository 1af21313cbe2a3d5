import { readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { commitParents } from "./commit.ts";
import { hasObjects, readLooseObject } from "./objects.ts";
import { gitFailed, runGit } from "./run.ts";

/**
 * Refs of a local repository, read and moved only through git itself (`update-ref`), so git's locks and
 * reflogs apply and two processes moving the same ref never both win.
 */
const ZERO_OID = "0".repeat(40);

/** The commit `rev` names, or undefined when there is none (an unborn branch, an unknown name). */
export async function resolveCommit(gitDir: string, rev: string): Promise<string | undefined> {
  const read = BRANCH.test(rev) ? await readBranchFile(gitDir, rev) : undefined;
  if (read !== undefined) return read.oid;
  const run = await runGit(["rev-parse", "--verify", "--quiet", `${rev}^{commit}`], { gitDir, okCodes: [1, 128] });
  return run.code === 0 ? run.stdout.toString().trim() : undefined;
}

/** A plain branch name, which git keeps as a file of its own or a line of `packed-refs`. */
const BRANCH = /^refs\/heads\/(?!.*\.\.)(?!.*\.lock$)[A-Za-z0-9._/-]+$/;
const OID_LINE = /^([0-9a-f]{40}|[0-9a-f]{64})\n?$/;

/**
 * A branch read from git's files as git reads them (the loose ref, else `packed-refs`), without starting
 * a process: the agent asks for `main` and `git-annex` several times a round, and a process costs 5–30 ms.
 * Safe beside a git that writes: a loose ref is replaced by rename, and `pack-refs` writes `packed-refs`
 * before it removes the loose file. Undefined (ask git) for anything this does not know for sure: a
 * symbolic ref, a repository with another ref store or a shared common directory.
 */
async function readBranchFile(gitDir: string, ref: string): Promise<{ oid: string | undefined } | undefined> {
  if (!(await plainRefFiles(gitDir))) return undefined;
  const loose = await readFile(join(gitDir, ref), "utf8").catch((error: NodeJS.ErrnoException) => {
    if (error.code === "ENOENT" || error.code === "ENOTDIR") return null;
    throw error;
  });
  if (loose !== null) {
    const oid = OID_LINE.exec(loose)?.[1];
    return oid ? { oid } : undefined;
  }
  const packed = await readPackedRefs(gitDir);
  // Absent from packed-refs too: no such branch.
  return packed && { oid: packed.get(ref) };
}

/** Whether `gitDir` keeps its refs as files of its own (not a reftable, not a linked worktree's common directory). */
const plainRefStores = new Map<string, boolean>();
async function plainRefFiles(gitDir: string): Promise<boolean> {
  let plain = plainRefStores.get(gitDir);
  if (plain === undefined) {
    const [reftable, commondir, refs] = await Promise.all(
      ["reftable", "commondir", "refs"].map((name) =>
        stat(join(gitDir, name)).then(
          () => true,
          () => false,
        ),
      ),
    );
    plain = refs === true && reftable === false && commondir === false;
    plainRefStores.set(gitDir, plain);
  }
  return plain;
}

/**
 * Every ref under `prefixes` (e.g. `refs/remotes/cloud/`): ref → object id. Read from git's files where it
 * keeps its refs as files (every fetch and push of the agent reads its tracking refs: a process less each);
 * anything this does not know for sure (a symbolic ref, a name git would not take) asks git.
 */
export async function readRefs(gitDir: string, prefixes: readonly string[]): Promise<Map<string, string>> {
  if (prefixes.every((prefix) => REF_PREFIX.test(prefix)) && (await plainRefFiles(gitDir))) {
    const read = await readRefFiles(gitDir, prefixes);
    if (read) return read;
  }
  const run = await runGit(["for-each-ref", "--format=%(objectname) %(refname)", ...prefixes], { gitDir });
  const refs = new Map<string, string>();
  for (const line of run.stdout.toString().split("\n")) {
    const space = line.indexOf(" ");
    if (space > 0) refs.set(line.slice(space + 1), line.slice(0, space));
  }
  return refs;
}

/** A folder of refs as for-each-ref takes it: `refs/…/`, no `..`, no lock file. */
const REF_PREFIX = /^refs\/(?!.*\.\.)(?!.*\.lock\/)[A-Za-z0-9._/-]*\/$/;
const REF_NAME_PART = /^[A-Za-z0-9._-]+$/;

/**
 * The refs under `prefixes` as git reads them: each loose ref file, else its line in `packed-refs` (read
 * after the loose files: `pack-refs` writes `packed-refs` before it removes a loose file, and a deletion
 * takes the line out before the file). Undefined when something is not a plain ref (git then answers).
 */
async function readRefFiles(gitDir: string, prefixes: readonly string[]): Promise<Map<string, string> | undefined> {
  const loose = new Map<string, string>();
  const visit = async (dir: string): Promise<boolean> => {
    const entries = await readdir(join(gitDir, dir), { withFileTypes: true }).catch((error: NodeJS.ErrnoException) => {
      if (error.code === "ENOENT" || error.code === "ENOTDIR") return [];
      throw error;
    });
    for (const entry of entries) {
      if (entry.name.endsWith(".lock")) continue; // a ref being written: its file is what holds now
      if (!REF_NAME_PART.test(entry.name)) return false;
      const ref = `${dir}${entry.name}`;
      if (entry.isDirectory()) {
        if (!(await visit(`${ref}/`))) return false;
        continue;
      }
      if (!entry.isFile()) return false;
      const text = await readFile(join(gitDir, ref), "utf8").catch((error: NodeJS.ErrnoException) => {
        if (error.code === "ENOENT") return null; // deleted meanwhile
        throw error;
      });
      if (text === null) continue;
      const oid = OID_LINE.exec(text)?.[1];
      if (!oid) return false;
      loose.set(ref, oid);
    }
    return true;
  };
  for (const prefix of new Set(prefixes)) if (!(await visit(prefix))) return undefined;
  const packed = await readPackedRefs(gitDir);
  if (!packed) return undefined;
  const refs = new Map<string, string>();
  for (const [ref, oid] of packed) if (prefixes.some((prefix) => ref.startsWith(prefix)) && !loose.has(ref)) refs.set(ref, oid);
  for (const [ref, oid] of loose) refs.set(ref, oid);
  // In git's order (by name), as for-each-ref lists them.
  return new Map([...refs].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/**
 * git's `packed-refs`: ref → object id (a `^` line peels the tag above it: not a ref of its own). Undefined
 * when a line is not one this knows (git then answers).
 */
async function readPackedRefs(gitDir: string): Promise<Map<string, string> | undefined> {
  const packed = await readFile(join(gitDir, "packed-refs"), "utf8").catch((error: NodeJS.ErrnoException) => {
    if (error.code === "ENOENT") return "";
    throw error;
  });
  const refs = new Map<string, string>();
  for (const line of packed.split("\n")) {
    if (line === "" || line.startsWith("#") || line.startsWith("^")) continue;
    const space = line.indexOf(" ");
    if (space < 0 || !OID_LINE.test(line.slice(0, space))) return undefined;
    refs.set(line.slice(space + 1), line.slice(0, space));
  }
  return refs;
}

/**
 * Moves `ref` to `oid`. With `expected` it is a compare-and-swap: it fails unless the ref is at
 * `expected` now (undefined or "": the ref must not exist).
 */
export async function updateRef(gitDir: string, ref: string, oid: string, options: { expected?: string | undefined } = {}): Promise<void> {
  await runGit(["update-ref", ref, oid, ...("expected" in options ? [options.expected || ZERO_OID] : [])], { gitDir });
}

/** Compare-and-swap of `ref` from `expected` (undefined: absent) to `oid`; false when the ref had moved. */
export async function swapRef(gitDir: string, ref: string, oid: string, expected: string | undefined): Promise<boolean> {
  const args = ["update-ref", ref, oid, expected ?? ZERO_OID];
  const run = await runGit(args, { gitDir, allowFailure: true });
  if (run.code === 0) return true;
  if (/cannot lock ref|is at .* but expected|reference already exists/.test(run.stderr)) return false;
  throw gitFailed(args, run);
}

/** Moves (or deletes, with oid null) several refs in one all-or-nothing transaction. */
export async function updateRefs(gitDir: string, updates: readonly { ref: string; oid: string | null }[]): Promise<void> {
  if (updates.length === 0) return;
  const lines = updates.map(({ ref, oid }) => (oid ? `update ${ref} ${oid}\n` : `delete ${ref}\n`));
  await runGit(["update-ref", "--stdin"], { gitDir, input: lines.join("") });
}

/**
 * Whether commit `ancestor` is `descendant` or one of its ancestors. A commit this repository does not
 * have is an ancestor of nothing here (false); any other failure of git is an error.
 *
 * Another process may bring `ancestor` in between git's answer and the look that explains it (a fetch of
 * the same folder installing the pack that holds it, while this one publishes): git failed because it
 * was missing, yet it is here now. Objects only ever arrive, so then git is asked again, once: the second
 * answer is about objects that are all here.
 *
 * Most pushes are a few new commits on the branch's last: those are loose objects until git packs them,
 * so their parents are read from the files first, and git (a process, 3-6 ms from a daemon) is asked only
 * when that walk does not reach `ancestor`.
 */
export async function isAncestor(gitDir: string, ancestor: string, descendant: string): Promise<boolean> {
  if (await reachedThroughLooseCommits(gitDir, ancestor, descendant)) return true;
  const args = ["merge-base", "--is-ancestor", ancestor, descendant];
  for (let attempt = 0; ; attempt++) {
    const run = await runGit(args, { gitDir, allowFailure: true });
    if (run.code <= 1) return run.code === 0;
    const present = await hasObjects(gitDir, [ancestor, descendant]);
    if (!present.has(ancestor)) return false;
    if (attempt > 0 || !present.has(descendant)) throw gitFailed(args, run);
  }
}

/** How many loose commits `isAncestor` reads before it leaves the question to git. */
const LOOSE_WALK = 64;

/**
 * Whether `ancestor` is reached from `descendant` through commits that are all loose objects here, read as
 * git writes them (zlib, `commit <size>\0`, `parent` lines after `tree`). False means "not found this way":
 * a commit that is packed, not a commit, or a walk longer than LOOSE_WALK leaves the answer to git.
 */
async function reachedThroughLooseCommits(gitDir: string, ancestor: string, descendant: string): Promise<boolean> {
  const queue = [descendant];
  const seen = new Set(queue);
  for (let i = 0; i < queue.length && i < LOOSE_WALK; i++) {
    const oid = queue[i]!;
    const parents = await looseCommitParents(gitDir, oid);
    if (parents === undefined) return false;
    // Found only once read: a commit named as a parent but missing here is an ancestor of nothing (git's answer).
    if (oid === ancestor) return true;
    for (const parent of parents) {
      if (seen.has(parent)) continue;
      seen.add(parent);
      queue.push(parent);
    }
  }
  return false;
}

/** The parents of commit `oid` when it is a loose object here, else undefined. */
async function looseCommitParents(gitDir: string, oid: string): Promise<string[] | undefined> {
  const object = await readLooseObject(gitDir, oid);
  return object?.type === "commit" ? commitParents(object.body) : undefined;
}

/** The best common ancestor of two commits, or undefined when they share no history. */
export async function mergeBase(gitDir: string, a: string, b: string): Promise<string | undefined> {
  const run = await runGit(["merge-base", a, b], { gitDir, okCodes: [1] });
  return run.code === 0 ? run.stdout.toString().trim() : undefined;
}

/** The object `rev` names, not peeled (a tag stays a tag); undefined when it names nothing. */
export async function resolveRef(gitDir: string, rev: string): Promise<string | undefined> {
  // A branch is read from its file (the remote helper resolves the branch of every push it is asked for).
  const read = BRANCH.test(rev) ? await readBranchFile(gitDir, rev) : undefined;
  if (read !== undefined) return read.oid;
  const run = await runGit(["rev-parse", "--verify", "--quiet", rev], { gitDir, okCodes: [1, 128] });
  return run.code === 0 ? run.stdout.toString().trim() : undefined;
}
