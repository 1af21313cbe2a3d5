import { findFolder, readSettings } from "../../folder/index.ts";
import { pauseFolder } from "../../folder/pause.ts";
import { emit } from "../output.ts";

export async function pauseCommand(dir: string | undefined, options: { json?: boolean }): Promise<void> {
  const root = await findFolder(dir);
  await readSettings(root); // a clear error for a folder that is not synced
  const state = await pauseFolder(root);
  emit(
    options.json,
    { folder: root, paused: state },
    () => `${root} is paused (since ${state.since}); \`cloudbridge resume\` syncs it again.`,
  );
}
