import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { hasObjects } from "./objects.ts";
import { gitFailed, runGit } from "./run.ts";

/**
 * Refs of a local repository, read and moved only through git itself (`update-ref`), so git's locks and
 * reflogs apply and two processes moving the same ref never both win.
 */
const ZERO_OID = "0".repeat(40);

/** The commit `rev` names, or undefined when there is none (an unborn branch, an unknown name). */
export async function resolveCommit(gitDir: string, rev: string): Promise<string | undefined> {
  const read = await readBranch(gitDir, rev);
  if (read !== "ask-git") return read;
  const run = await runGit(["rev-parse", "--verify", "--quiet", `${rev}^{commit}`], { gitDir, okCodes: [1, 128] });
  return run.code === 0 ? run.stdout.toString().trim() : undefined;
}

/**
 * A branch's commit read from the ref files the way git stores them (a loose ref, else `packed-refs`),
 * without starting git: a sync round asks for its branches' heads several times, and a `git rev-parse`
 * costs a process each time. Loose refs and `packed-refs` are replaced whole (written aside, renamed),
 * so a read never sees half of one; git packs a ref into `packed-refs` before it removes the loose file,
 * so a missing loose ref is then either packed or gone. Anything else (a name that is not a full branch
 * name, a symbolic ref, refs stored another way such as reftable) is for git itself.
 */
async function readBranch(gitDir: string, ref: string): Promise<string | undefined | "ask-git"> {
  if (!/^refs\/heads\/[A-Za-z0-9._/-]+$/.test(ref) || ref.includes("..") || ref.endsWith(".lock")) return "ask-git";
  let loose: string;
  try {
    loose = await readFile(join(gitDir, ref), "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") return "ask-git";
    // A linked work tree's git directory keeps its branches in the common one.
    if (
      await stat(join(gitDir, "commondir")).then(
        () => true,
        () => false,
      )
    )
      return "ask-git";
    let packed: string;
    try {
      packed = await readFile(join(gitDir, "packed-refs"), "utf8");
    } catch (packedError) {
      return (packedError as NodeJS.ErrnoException).code === "ENOENT" ? undefined : "ask-git";
    }
    for (const line of packed.split("\n"))
      if (line.endsWith(` ${ref}`) && OID.test(line.slice(0, -ref.length - 1))) return line.slice(0, -ref.length - 1);
    return undefined;
  }
  const oid = loose.trim();
  return OID.test(oid) ? oid : "ask-git";
}

const OID = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/;

/** Every ref under `prefixes` (e.g. `refs/remotes/cloud/`): ref → object id. */
export async function readRefs(gitDir: string, prefixes: readonly string[]): Promise<Map<string, string>> {
  const run = await runGit(["for-each-ref", "--format=%(objectname) %(refname)", ...prefixes], { gitDir });
  const refs = new Map<string, string>();
  for (const line of run.stdout.toString().split("\n")) {
    const space = line.indexOf(" ");
    if (space > 0) refs.set(line.slice(space + 1), line.slice(0, space));
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
 */
export async function isAncestor(gitDir: string, ancestor: string, descendant: string): Promise<boolean> {
  const args = ["merge-base", "--is-ancestor", ancestor, descendant];
  for (let attempt = 0; ; attempt++) {
    const run = await runGit(args, { gitDir, allowFailure: true });
    if (run.code <= 1) return run.code === 0;
    const present = await hasObjects(gitDir, [ancestor, descendant]);
    if (!present.has(ancestor)) return false;
    if (attempt > 0 || !present.has(descendant)) throw gitFailed(args, run);
  }
}

/** The best common ancestor of two commits, or undefined when they share no history. */
export async function mergeBase(gitDir: string, a: string, b: string): Promise<string | undefined> {
  const run = await runGit(["merge-base", a, b], { gitDir, okCodes: [1] });
  return run.code === 0 ? run.stdout.toString().trim() : undefined;
}

/** The object `rev` names, not peeled (a tag stays a tag); undefined when it names nothing. */
export async function resolveRef(gitDir: string, rev: string): Promise<string | undefined> {
  const run = await runGit(["rev-parse", "--verify", "--quiet", rev], { gitDir, okCodes: [1, 128] });
  return run.code === 0 ? run.stdout.toString().trim() : undefined;
}
