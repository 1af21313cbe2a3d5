import { commitTree, gitText } from "../localgit/index.ts";
import { GitStoreError } from "./errors.ts";
import type { MergeCallback } from "./push.ts";

/**
 * A merge callback that makes git's own three-way merge of the two trees (`git merge-tree --write-tree`)
 * and records it as a merge commit, without touching any work tree. It refuses conflicts: callers that
 * can resolve them (the agent keeps both versions, the git-annex branch unions lines) supply their own.
 */
export function treeMergeCallback(gitDir: string, message = "Merge concurrent changes"): MergeCallback {
  return async (ours, theirs, ref) => {
    let tree: string;
    try {
      tree = (await gitText(["merge-tree", "--write-tree", "--no-messages", ours, theirs], { gitDir })).split("\n")[0]!;
    } catch {
      throw new GitStoreError("non-fast-forward", `${ref}: ${ours} and ${theirs} conflict; resolve the conflict and push again.`);
    }
    return commitTree(gitDir, { tree, parents: [ours, theirs], message: `${message} on ${ref}` });
  };
}
