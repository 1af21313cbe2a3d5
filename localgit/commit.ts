import { writeLooseObject } from "./objects.ts";
import { gitText } from "./run.ts";

/**
 * The parents of a commit, from its body as git writes it (and writeCommit below): a `tree` line, then a
 * `parent` line each. Undefined when the body does not start with a tree line.
 */
export function commitParents(body: Buffer): string[] | undefined {
  const end = body.indexOf("\n\n");
  const lines = body.toString("latin1", 0, end < 0 ? body.length : end).split("\n");
  if (!lines[0]?.startsWith("tree ")) return undefined;
  const parents: string[] = [];
  for (const line of lines.slice(1)) {
    if (!line.startsWith("parent ")) break;
    parents.push(line.slice("parent ".length));
  }
  return parents;
}

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

/** Settings in the environment that change what `git commit-tree` writes: with one of them set, git writes the commit. */
export const COMMIT_ENV = ["GIT_AUTHOR_DATE", "GIT_COMMITTER_DATE"];

/**
 * An identity git would record as it is: a name and an address without what git strips or refuses (angle
 * brackets, newlines, leading or trailing spaces and punctuation). Any other is left to git to write.
 */
export function isPlainIdentity(identity: CommitIdentity): boolean {
  const plain = (text: string) =>
    text.length > 0 && ![...text].some((char) => char < " " || char === "<" || char === ">") && !isCrud(text[0]!) && !isCrud(text.at(-1)!);
  return plain(identity.name) && plain(identity.email);
}

/** What git's ident code trims from both ends of a name or an address. */
function isCrud(char: string): boolean {
  return char <= " " || ".,:;<>\"\\'".includes(char);
}

/**
 * Writes a commit as `git commit-tree` writes it (tree, parents, author and committer now in this
 * machine's time zone, the message as given with a final newline), as a loose object. Returns its id.
 */
export async function writeCommit(
  gitDir: string,
  commit: { tree: string; parents: readonly string[]; message: string },
  identity: CommitIdentity,
  format: "sha1" | "sha256",
  now: Date = new Date(),
): Promise<string> {
  const offset = -now.getTimezoneOffset();
  const zone = `${offset < 0 ? "-" : "+"}${String(Math.floor(Math.abs(offset) / 60)).padStart(2, "0")}${String(Math.abs(offset) % 60).padStart(2, "0")}`;
  const who = `${identity.name} <${identity.email}> ${Math.floor(now.getTime() / 1000)} ${zone}`;
  const message = commit.message.endsWith("\n") ? commit.message : `${commit.message}\n`;
  const body = [`tree ${commit.tree}`, ...commit.parents.map((p) => `parent ${p}`), `author ${who}`, `committer ${who}`, "", message].join(
    "\n",
  );
  return writeLooseObject(gitDir, "commit", Buffer.from(body), format);
}
