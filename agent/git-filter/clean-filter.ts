import { createHash } from "node:crypto";
import { basename } from "node:path";
import { formatPointer } from "../../annex/content/pointer.ts";
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
 * The content is hashed as git streams it; only a file that may still turn out small is kept in memory
 * (at most the rule's minimum size). Nothing is ingested: the agent's own scan does that.
 */
export async function cleanContent(path: string, content: AsyncIterable<Buffer>, rule: LargeFilesRule): Promise<Buffer> {
  const hash = createHash("sha256");
  const kept: Buffer[] = [];
  let size = 0;
  let large = isLargeFile(path, 0, rule);
  for await (const chunk of content) {
    hash.update(chunk);
    size += chunk.length;
    if (large) continue;
    kept.push(chunk);
    if (isLargeFile(path, size, rule)) {
      large = true;
      kept.length = 0;
    }
  }
  return large ? Buffer.from(formatPointer(sha256eKey(hash.digest("hex"), size, basename(path)))) : Buffer.concat(kept);
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
