import { GitStoreError } from "../../gitstore/errors.ts";
import { presentObjects } from "../../gitstore/native-engine.ts";
import { runGit } from "../../gitstore/run-git.ts";

/** Refs of the local repository, read and moved only through git itself (so its locks and logs apply). */
export async function readLocalRefs(gitDir: string, prefixes: readonly string[]): Promise<Map<string, string>> {
  const run = await runGit(["for-each-ref", "--format=%(objectname) %(refname)", ...prefixes], { gitDir });
  const refs = new Map<string, string>();
  for (const line of run.stdout.toString().split("\n")) {
    const space = line.indexOf(" ");
    if (space > 0) refs.set(line.slice(space + 1), line.slice(0, space));
  }
  return refs;
}

/** Moves (or deletes, with oid null) several refs in one all-or-nothing transaction. */
export async function updateLocalRefs(gitDir: string, updates: readonly { ref: string; oid: string | null }[]): Promise<void> {
  if (updates.length === 0) return;
  const lines = updates.map(({ ref, oid }) => (oid ? `update ${ref} ${oid}\n` : `delete ${ref}\n`));
  await runGit(["update-ref", "--stdin"], { gitDir, input: lines.join("") });
}

/** Whether commit `ancestor` is `descendant` or one of its ancestors; false when `ancestor` is not here. */
export async function isAncestor(gitDir: string, ancestor: string, descendant: string): Promise<boolean> {
  const run = await runGit(["merge-base", "--is-ancestor", ancestor, descendant], { gitDir, allowFailure: true });
  if (run.code <= 1) return run.code === 0;
  if (!(await presentObjects(gitDir, [ancestor])).has(ancestor)) return false;
  throw new GitStoreError("git-failed", `git merge-base failed: ${run.stderr.trim()}`);
}
