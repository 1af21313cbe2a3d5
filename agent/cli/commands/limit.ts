import type { Command } from "commander";
import { findFolder, parseRate, readSettings, SETTING_NAMES, writeSettings } from "../../folder/index.ts";
import { CliError } from "../errors.ts";
import { formatBytes } from "../transfer-progress.ts";
import { emit } from "../output.ts";

export function limitCommand(program: Command): void {
  program
    .command("limit")
    .description(
      `Bandwidth limits for annexed content (${SETTING_NAMES.uploadLimit}, ${SETTING_NAMES.downloadLimit}); without options, show them. A running daemon applies a change at its next round.`,
    )
    .argument("[dir]", "the synced folder (default: the one around the current directory)")
    .option("--up <rate>", "uploads: bytes per second (5MB, 512KiB) or none")
    .option("--down <rate>", "downloads: bytes per second (5MB, 512KiB) or none")
    .option("--json", "print as JSON")
    .action(async (dir: string | undefined, options: { up?: string; down?: string; json?: boolean }) => {
      const root = await findFolder(dir);
      for (const [flag, value] of [
        ["--up", options.up],
        ["--down", options.down],
      ] as const) {
        if (value !== undefined && value.trim().toLowerCase() !== "none" && parseRate(value) === undefined)
          throw new CliError(
            "invalid-option",
            `${flag} ${JSON.stringify(value)} is not a rate: write bytes per second (5MB, 512KiB) or none.`,
          );
      }
      await readSettings(root);
      await writeSettings(`${root}/.git`, {
        ...(options.up !== undefined ? { uploadLimit: options.up } : {}),
        ...(options.down !== undefined ? { downloadLimit: options.down } : {}),
      });
      const settings = await readSettings(root);
      const show = (rate: number) => (rate > 0 ? `${formatBytes(rate)}/s` : "no limit");
      emit(
        options.json,
        { folder: root, upload: settings.uploadLimit, download: settings.downloadLimit },
        () => `uploads: ${show(settings.uploadLimit)}, downloads: ${show(settings.downloadLimit)}`,
      );
    });
}
