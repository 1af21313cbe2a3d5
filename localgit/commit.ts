import { gitText } from "./run.ts";

/** Who cloudbridge's commits are by: a folder's own description and agent id, or this default. */
export interface CommitIdentity {
  name: string;
  email: string;
}

export const DEFAULT_IDENTITY: CommitIdentity = { name: "cloudbridge", email: "agent@cloudbridge" };

/** The environment that makes git record `identity` as author and committer. */
export function identityEnv(identity: CommitIdentity): Record<string, string> {
  return {
    GIT_AUTHOR_NAME: identity.name,
    GIT_AUTHOR_EMAIL: identity.email,
    GIT_COMMITTER_NAME: identity.name,
    GIT_COMMITTER_EMAIL: identity.email,
  };
}

/** Writes a commit of `tree` (refs are not touched) and returns its id. */
export async function commitTree(
  gitDir: string,
  commit: { tree: string; parents: readonly string[]; message: string },
  identity: CommitIdentity = DEFAULT_IDENTITY,
): Promise<string> {
  // The message goes on stdin: one argument may not exceed 128 KiB, and a message can be longer (the agent
  // lists its files' modification times in it).
  const args = ["commit-tree", commit.tree, ...commit.parents.flatMap((p) => ["-p", p])];
  const message = commit.message.endsWith("\n") ? commit.message : `${commit.message}\n`;
  return gitText(args, { gitDir, env: identityEnv(identity), input: message });
}
