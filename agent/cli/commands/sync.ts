import { findFolder, openSyncedFolder } from "../../folder/index.ts";
import { readPause } from "../../folder/pause.ts";
import { CliError } from "../errors.ts";
import { cliLogger, emit, progress } from "../output.ts";
import { summarize } from "./shared.ts";

export async function syncCommand(dir: string | undefined, options: { json?: boolean }): Promise<void> {
  const folder = await openSyncedFolder(await findFolder(dir), { log: cliLogger({ quiet: true }) });
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
    emit(options.json, { folder: folder.root, ...report }, () => summarize(report));
    if (report.refused.length > 0 || report.notUploaded.length > 0 || report.unwritable.length > 0) {
      const what = [
        report.refused.length > 0 ? `refused ${report.refused.length} path(s) from the bucket` : undefined,
        report.notUploaded.length > 0 ? `did not upload ${report.notUploaded.length} local path(s)` : undefined,
        report.unwritable.length > 0 ? `could not write ${report.unwritable.length} path(s) here (read-only?)` : undefined,
      ];
      throw new CliError("content-refused", `${what.filter(Boolean).join(" and ")} (listed above); everything else is in sync.`);
    }
  } finally {
    folder.close();
  }
}
