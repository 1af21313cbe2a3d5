import { findFolder, readSettings } from "../../folder/index.ts";
import { resumeFolder } from "../../folder/pause.ts";
import { emit } from "../output.ts";

export async function resumeCommand(dir: string | undefined, options: { json?: boolean }): Promise<void> {
  const root = await findFolder(dir);
  await readSettings(root);
  const was = await resumeFolder(root);
  emit(options.json, { folder: root, resumed: was }, () => (was ? `${root} is syncing again.` : `${root} was not paused.`));
}
