import type { Command } from "commander";
import { findFolder, readSettings } from "../../folder/index.ts";
import { resumeFolder } from "../../folder/pause.ts";
import { emit } from "../output.ts";

export function resumeCommand(program: Command): void {
  program
    .command("resume")
    .description("Sync a paused folder again: its daemon catches up with one full round.")
    .argument("[dir]", "the synced folder (default: the one around the current directory)")
    .option("--json", "print as JSON")
    .action(async (dir: string | undefined, options: { json?: boolean }) => {
      const root = await findFolder(dir);
      await readSettings(root);
      const was = await resumeFolder(root);
      emit(options.json, { folder: root, resumed: was }, () => (was ? `${root} is syncing again.` : `${root} was not paused.`));
    });
}
