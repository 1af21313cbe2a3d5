import type { Stats } from "node:fs";
import { placeContent } from "../../../annex/index.ts";
import { LocalRepo } from "../../sync/local-repo.ts";
import { StatCache } from "../../sync/stat-cache.ts";
import {
  byKey,
  commandDir,
  openAnnexContext,
  reportTransfers,
  resolveTargets,
  workTreePath,
  type AnnexContext,
  type Target,
} from "../annex-context.ts";
import { CliError } from "../errors.ts";
import { formatBytes } from "../transfer-progress.ts";

export async function getCommand(paths: string[], options: { key?: string[]; json?: boolean; dir?: string }): Promise<void> {
  const cwd = commandDir(options.dir);
  const context = await openAnnexContext({ cwd, paths });
  const targets = await resolveTargets(context, paths, options.key, cwd);
  const keys = byKey(targets);
  const report = reportTransfers<{ downloaded: boolean; size: number }>("get", keys, options.json ?? false, (result) => ({
    fields: { downloaded: result.downloaded, size: result.size },
    text: `: ${result.downloaded ? `ok (${formatBytes(result.size)})` : "ok (already here)"}`,
  }));
  try {
    await context.annex.get(
      [...keys.keys()].map((key) => ({ key, fileName: keys.get(key)![0]!.path ?? key })),
      report,
    );
  } finally {
    report.stop();
  }
  await populate(context, targets);
  if (report.failed() > 0) throw new CliError("incomplete", `${report.failed()} of ${targets.length} file(s) could not be got.`);
}

/** Files placed under one hold of the folder lock: a daemon's round waits for at most this many. */
const PLACED_PER_LOCK = 64;

/**
 * An unlocked file that is still a pointer in the work tree gets its content (locked files are symlinks
 * and need nothing; a file the user changed is left alone). The folder's stat cache learns the new stats,
 * a batch of files at a time.
 */
async function populate(context: AnnexContext, targets: readonly Target[]): Promise<void> {
  const unlocked = targets.filter((target) => target.path && target.mode !== "120000");
  const repo = new LocalRepo(context.workTree);
  for (let start = 0; start < unlocked.length; start += PLACED_PER_LOCK) {
    // Under the folder lock, so a daemon on this folder does not save its stat cache over this change.
    await repo.lock.hold(async () => {
      const placed = new Map<string, Stats>();
      for (const target of unlocked.slice(start, start + PLACED_PER_LOCK)) {
        const mode = target.mode === "100755" ? 0o755 : 0o644;
        const stats = await placeContent(context.annex.local, target.key, workTreePath(context, target.path!), mode);
        if (stats) placed.set(target.path!, stats);
      }
      await StatCache.recordPlaced(repo.stateDir, placed);
    });
  }
}
