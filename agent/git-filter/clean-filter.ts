import { createHash } from "node:crypto";
import { basename } from "node:path";
import { formatPointer, MAX_POINTER_SIZE, mayBePointerSize, parsePointer } from "../../annex/content/pointer.ts";
import { goesToAnnex, isLargeFile, largeFilesRuleFrom, type LargeFilesRule } from "../../annex/content/largefiles.ts";
import { readConfig } from "../../localgit/config.ts";
import { BlobReader } from "../../localgit/objects.ts";
import { gitText } from "../../localgit/run.ts";
import { sha256eKey } from "../../protocol/annex-key.ts";

/**
 * The clean filter of a synced folder: what git should store for a file is what a scan would commit for
 * it (scanner.ts), so that plain `git status` and `git diff` in the folder agree with the agent. A file
 * that goes to the annex (goesToAnnex: the folder's `cloudbridge.largefiles.*` rule, or annexed already
 * as `annexedAs` says and still its key's size) becomes the pointer to its SHA256E key, as the agent
 * annexes it; every other file is stored as it is. Without it git compares an unlocked annexed file's
 * content with its pointer in the index and calls every annexed file modified.
 *
 * `annexedAs`: the key the file's index entry names, asked only for a file the rule keeps in git (most
 * are not annexed anywhere, so the question is not worth asking for the others).
 *
 * The content is hashed as git streams it; only a file that may still turn out small or a pointer is kept
 * in memory (at most the rule's minimum size, or a pointer's). Nothing is ingested: the agent's own scan does that.
 */
export async function cleanContent(
  path: string,
  content: AsyncIterable<Buffer>,
  rule: LargeFilesRule,
  annexedAs: (path: string) => Promise<string | undefined> = async () => undefined,
): Promise<Buffer> {
  const hash = createHash("sha256");
  const kept: Buffer[] = [];
  let size = 0;
  let large = isLargeFile(path, 0, rule);
  for await (const chunk of content) {
    hash.update(chunk);
    size += chunk.length;
    if (!large) large = isLargeFile(path, size, rule);
    // Kept: a file that may still turn out small, and a large one's bytes while it may be a pointer file.
    if (large && size > MAX_POINTER_SIZE) kept.length = 0;
    else kept.push(chunk);
  }
  if (!large && !goesToAnnex(path, size, rule, await annexedAs(path))) return Buffer.concat(kept);
  // A pointer file (an annexed file moved or copied before its content arrived) stays the pointer to its
  // key, as the scan commits it: its text is not the content, whatever the rule says of its name.
  const pointed = mayBePointerSize(size) ? parsePointer(Buffer.concat(kept)) : undefined;
  return Buffer.from(formatPointer(pointed ?? sha256eKey(hash.digest("hex"), size, basename(path))));
}

/**
 * The folder's rule for large files, from its git config (as the agent reads it, agent/folder/config.ts).
 * `gitDir` undefined: the repository git runs the filter in (its work tree is the current folder).
 */
export async function folderLargeFilesRule(gitDir?: string): Promise<LargeFilesRule> {
  const config = await readConfig(gitDir);
  const minsize = config.get("cloudbridge.largefiles.minsize")?.at(-1);
  return largeFilesRuleFrom({
    ...(minsize !== undefined ? { minsize } : {}),
    include: config.get("cloudbridge.largefiles.include") ?? [],
    exclude: config.get("cloudbridge.largefiles.exclude") ?? [],
  });
}

/**
 * The key a file's entry in the folder's index names (`:path`, its staged version: what the agent last
 * committed or checked out), or undefined when the entry is not a pointer or there is none. Read through
 * one `git cat-file --batch` started at the first question, for the life of the filter. A name holding a
 * newline cannot be asked through that protocol, and is taken as not annexed.
 */
export function indexedAnnexKeys(): (path: string) => Promise<string | undefined> {
  let reader: Promise<BlobReader> | undefined;
  return async (path) => {
    if (path.includes("\n")) return undefined;
    reader ??= gitText(["rev-parse", "--absolute-git-dir"]).then((gitDir) => new BlobReader(gitDir, { keptOpen: true }));
    const staged = await (await reader).readObject(`:${path}`);
    return staged?.type === "blob" && mayBePointerSize(staged.body.length) ? parsePointer(staged.body) : undefined;
  };
}
