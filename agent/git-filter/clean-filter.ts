import { createHash } from "node:crypto";
import { basename } from "node:path";
import { formatPointer, MAX_POINTER_SIZE, mayBePointerSize, parsePointer } from "../../annex/content/pointer.ts";
import { isLargeFile, largeFilesRuleFrom, type LargeFilesRule } from "../../annex/content/largefiles.ts";
import { readConfig } from "../../localgit/config.ts";
import { sha256eKey } from "../../protocol/annex-key.ts";

/**
 * The clean filter of a synced folder: what git should store for a file is what a scan would commit for
 * it (scanner.ts), so that plain `git status` and `git diff` in the folder agree with the agent. A large
 * file (the folder's `cloudbridge.largefiles.*` rule) becomes the pointer to its SHA256E key, as the agent
 * annexes it; every other file is stored as it is. Without it git compares an unlocked annexed file's
 * content with its pointer in the index and calls every annexed file modified.
 *
 * The content is hashed as git streams it; only a file that may still turn out small or a pointer is kept
 * in memory (at most the rule's minimum size, or a pointer's). Nothing is ingested: the agent's own scan does that.
 */
export async function cleanContent(path: string, content: AsyncIterable<Buffer>, rule: LargeFilesRule): Promise<Buffer> {
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
  if (!large) return Buffer.concat(kept);
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
