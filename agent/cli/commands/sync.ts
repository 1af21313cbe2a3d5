import type { Command } from "commander";
import { openFolder } from "../../folder.ts";
import { syncOnce } from "../../sync-once.ts";
import { CliError } from "../errors.ts";
import { cliLogger, emit, progress } from "../output.ts";
import { summarize } from "./shared.ts";

/** Exit code when the round completed but content was refused: from the bucket (hostile or unrepresentable paths) or a local symlink leading outside. */
export const EXIT_REFUSED = 3;

export function syncCommand(program: Command): void {
  program
    .command("sync")
    .description("One sync round, then exit: commit local changes, push, pull, merge, transfer content.")
    .argument("[dir]", "the synced folder", ".")
    .option("--json", "print the result as JSON")
    .action(async (dir: string, options: { json?: boolean }) => {
      const folder = await openFolder(dir, { log: cliLogger({ quiet: true }) });
      try {
        const bar = progress("scanning", "files", { quiet: options.json === true });
        const report = await syncOnce(folder, { onScanProgress: (n) => bar.update(n) });
        bar.stop();
        emit(options.json, { folder: folder.root, ...report }, () => summarize(report));
        if (report.refused.length > 0 || report.notUploaded.length > 0 || report.unwritable.length > 0) {
          const what = [
            report.refused.length > 0 ? `refused ${report.refused.length} path(s) from the bucket` : undefined,
            report.notUploaded.length > 0 ? `did not upload ${report.notUploaded.length} path(s) of this folder` : undefined,
            report.unwritable.length > 0 ? `could not write ${report.unwritable.length} path(s) here (read-only?)` : undefined,
          ];
          throw new CliError(`${what.filter(Boolean).join(" and ")} (listed above); everything else is in sync.`, EXIT_REFUSED);
        }
      } finally {
        folder.close();
      }
    });
}
