import { folderStatus } from "../../status/folder-status.ts";
import { renderStatus } from "../../status/render-status.ts";
import { findFolder, inLinkedWorktree, linkedWorktreeOf } from "../../folder/index.ts";
import { readRefusedPaths } from "../../sync/refused-paths.ts";
import { CloudbridgeError } from "../../../protocol/index.ts";
import { cliLogger, emit } from "../output.ts";

/** `cloudbridge status [dir]`: the folder's local part, then the cloud's (unless --offline). */
export async function statusCommand(dir: string | undefined, options: { json?: boolean; offline?: boolean }): Promise<void> {
  // As sync asks it: in a worktree the folder found would be the worktree (its `.git` a file) or the folder around it.
  const worktree = await linkedWorktreeOf(dir ?? ".");
  if (worktree) throw inLinkedWorktree(worktree, "status");
  const status = await folderStatus(await findFolder(dir), {
    ...(options.offline ? { offline: true } : {}),
    log: cliLogger({ quiet: true }),
    oneCommand: true,
    // What the last round (the daemon's or a `sync`) left unsynced, paths refused from the bucket included.
    refusedSources: [{ read: async (root) => (await readRefusedPaths(root)).paths }],
  });
  emit(options.json, status, () => renderStatus(status));
  // The whole local part is printed; a cloud that could not be reached is then said in one line, with its exit code.
  const problem = status.problems.find((p) => p.part === "cloud");
  if (problem) throw new CloudbridgeError(problem.code, problem.message);
}
