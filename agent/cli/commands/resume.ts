import { readSettings } from "../../folder/index.ts";
import { resumeFolder } from "../../folder/pause.ts";
import { locate } from "../folder-path.ts";
import { emit } from "../output.ts";

export async function resumeCommand(dir: string, options: { json?: boolean }): Promise<void> {
  const { root } = await locate(dir);
  await readSettings(root);
  const was = await resumeFolder(root);
  emit(options.json, { folder: root, resumed: was }, () => (was ? `${root} is syncing again.` : `${root} was not paused.`));
}
