import type { Command } from "commander";
import { openFolder } from "../../folder.ts";
import { syncOnce } from "../../sync-once.ts";
import { CliError } from "../errors.ts";
import { cliLogger, emit, progress } from "../output.ts";
import { summarize } from "./shared.ts";

/** Exit code when the round completed but content from the bucket was refused (hostile or unrepresentable paths). */
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
        if (report.notSynced.length > 0) {
          throw new CliError(
            `${report.notSynced.length} path(s) in this folder are not synced (listed above); everything else is in sync.`,
            EXIT_REFUSED,
          );
        }
        if (report.unwritable.length > 0) {
          throw new CliError(
            `could not write ${report.unwritable.length} path(s) in this folder (listed above; read-only?); everything else is in sync.`,
            EXIT_REFUSED,
          );
        }
        if (report.refused.length > 0) {
          throw new CliError(
            `refused ${report.refused.length} path(s) from the bucket (listed above); everything else is in sync.`,
            EXIT_REFUSED,
          );
        }
      } finally {
        folder.close();
      }
    });
}
