import { cleanContent, folderLargeFilesRule, indexedAnnexKeys } from "./clean-filter.ts";
import { serveFilter } from "./filter-protocol.ts";

/**
 * `cloudbridge filter-process`: the long-running clean filter git starts in a synced folder (registered
 * by register.ts). Its own entry point, loading only the filter and what the rule needs, since git starts
 * it for a `git status` that has files to look at again: no CLI, no AWS SDK.
 */
export async function runFilterProcess(): Promise<void> {
  const rule = await folderLargeFilesRule();
  const annexedAs = indexedAnnexKeys();
  await serveFilter(process.stdin, process.stdout, { clean: (path, content) => cleanContent(path, content, rule, annexedAs) });
}

if (import.meta.main) {
  try {
    await runFilterProcess();
  } catch (error) {
    // git shows the filter's stderr and keeps the files as they are (the filter is not required).
    process.stderr.write(`cloudbridge filter-process: ${(error as Error).message}\n`);
    process.exitCode = 1;
  }
}
