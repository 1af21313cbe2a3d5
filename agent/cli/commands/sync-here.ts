import { openSyncedFolder } from "../../folder/index.ts";
import { readPause } from "../../folder/pause.ts";
import type { TimedLook } from "../../sync/index-look.ts";
import { CliError } from "../errors.ts";
import { cliLogger, progress } from "../output.ts";
import { reportSync } from "./sync-report.ts";

/**
 * `cloudbridge sync` in this process, when no daemon serves the folder: open it, one complete sync, report.
 * `look`: git's look at the folder, started before this module was loaded (agent/sync/index-look.ts).
 */
export async function syncHere(root: string, options: { json?: boolean }, look?: Promise<TimedLook | undefined>): Promise<void> {
  const folder = await openSyncedFolder(root, {
    log: cliLogger({ quiet: true }),
    oneCommand: true,
    lookThroughIndex: true,
    ...(look ? { look } : {}),
  });
  if (await readPause(folder.root)) {
    folder.close();
    throw new CliError(
      "folder-paused",
      `${folder.root} is paused: nothing was synced. \`cloudbridge resume ${folder.root}\` syncs it again.`,
    );
  }
  try {
    const bar = progress("scanning", "files", { quiet: options.json === true });
    const report = await folder.engine.syncOnce({ onScanProgress: (n) => bar.update(n) });
    bar.stop();
    await reportSync(folder.root, report, options);
  } finally {
    folder.close();
  }
}
