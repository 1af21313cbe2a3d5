import { askDaemon } from "../../../localgit/daemon-socket.ts";
import { SOCKET_VERSION } from "../../../protocol/daemon-request.ts";
import { findFolder, isFolder, linkedWorktreeOf, stateDirOf } from "../../folder/find.ts";
import type { SyncOnceReport } from "../../sync/engine.ts";

/**
 * `cloudbridge sync`: asks the daemon that serves the folder, if one does (its watcher already knows what
 * changed, so a sync with nothing to do costs a look at the bucket's refs); else does the sync here
 * (./sync-here.ts). Nothing else is loaded before the daemon is asked: the agent, the AWS SDK and git are
 * loaded only to sync here.
 */
export async function syncCommand(dir: string | undefined, options: { json?: boolean }): Promise<void> {
  // Asked first: inside a worktree nested in the folder, findFolder would find the folder around it, and a sync
  // there would send the worktree's files as the folder's own; beside it, init's advice would rewrite the
  // repository's settings, which the worktree shares.
  const worktree = await linkedWorktreeOf(dir ?? ".");
  if (worktree) throw (await import("../../folder/errors.ts")).inLinkedWorktree(worktree, "sync");
  const root = await findFolder(dir);
  const asked = await askDaemon(stateDirOf(root), { version: SOCKET_VERSION, ask: "sync" });
  const reply = asked.kind === "answered" ? asked.reply : undefined;
  if (reply?.ok) {
    const { reportSync } = await import("./sync-report.ts");
    // A daemon started by an older version does not list the transfers that failed.
    const report = reply.value as SyncOnceReport;
    return reportSync(
      root,
      { ...report, notDownloaded: report.notDownloaded ?? [], contentNotUploaded: report.contentNotUploaded ?? [] },
      options,
    );
  }
  if (reply?.code === "folder-paused") {
    const { CliError } = await import("../errors.ts");
    throw new CliError("folder-paused", reply.message);
  }
  // A daemon that failed the round, or could not be asked: the sync done here says what went wrong.
  if (asked.kind === "not-asked") process.stderr.write(`cloudbridge: ${asked.reason}; syncing without the daemon.\n`);
  // git's look at the folder starts now, beside the loading of the agent and the folder's opening, which
  // take as long as it does (docs/performance.md); the folder takes it only if it can be trusted.
  const early = (await isFolder(root)) ? await (await import("../../sync/index-look.ts")).startLook(root, stateDirOf(root)) : undefined;
  const { syncHere } = await import("./sync-here.ts");
  return syncHere(root, options, early?.look);
}
