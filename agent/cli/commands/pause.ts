import type { Command } from "commander";
import { findFolder, readSettings } from "../../folder/index.ts";
import { pauseFolder } from "../../folder/pause.ts";
import { emit } from "../output.ts";

export function pauseCommand(program: Command): void {
  program
    .command("pause")
    .description(
      "Stop syncing a folder until `cloudbridge resume`: its daemon commits, pushes and pulls nothing meanwhile (kept across restarts).",
    )
    .argument("[dir]", "the synced folder (default: the one around the current directory)")
    .option("--json", "print as JSON")
    .action(async (dir: string | undefined, options: { json?: boolean }) => {
      const root = await findFolder(dir);
      await readSettings(root); // a clear error for a folder that is not synced
      const state = await pauseFolder(root);
      emit(
        options.json,
        { folder: root, paused: state },
        () => `${root} is paused (since ${state.since}); \`cloudbridge resume\` syncs it again.`,
      );
    });
}
