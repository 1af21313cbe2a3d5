import { findFolder, parseRate, readSettings, writeSettings } from "../../folder/index.ts";
import { CliError } from "../errors.ts";
import { formatBytes } from "../transfer-progress.ts";
import { emit } from "../output.ts";

export async function limitCommand(dir: string | undefined, options: { up?: string; down?: string; json?: boolean }): Promise<void> {
  const root = await findFolder(dir);
  for (const [flag, value] of [
    ["--up", options.up],
    ["--down", options.down],
  ] as const) {
    if (value !== undefined && value.trim().toLowerCase() !== "none" && parseRate(value) === undefined)
      throw new CliError("invalid-option", `${flag} ${JSON.stringify(value)} is not a rate: write bytes per second (5MB, 512KiB) or none.`);
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
}
