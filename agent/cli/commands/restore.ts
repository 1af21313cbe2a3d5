import { restorePath } from "../../history/restore.ts";
import { forTerminal } from "../../terminal-text.ts";
import { CliError } from "../errors.ts";
import { locate, openQuietly, syncChanged } from "../folder-path.ts";
import { emit } from "../output.ts";

export async function restoreCommand(file: string, options: { at?: string; version?: string; json?: boolean }): Promise<void> {
  if (options.at !== undefined && options.version !== undefined) throw new CliError("invalid-option", "use --at or --version, not both.");
  const version = options.version === undefined ? undefined : Number(options.version);
  if (version !== undefined && (!Number.isInteger(version) || version < 1))
    throw new CliError(
      "invalid-option",
      `--version ${JSON.stringify(options.version)} is not a positive number (see \`cloudbridge versions\`).`,
    );
  if (options.at !== undefined && !options.at.trim()) throw new CliError("invalid-option", "--at needs a time.");
  const { root, path } = await locate(file);
  const folder = await openQuietly(root);
  try {
    const result = await restorePath(folder.repo, folder.annex, path, {
      ...(options.at !== undefined ? { at: options.at } : {}),
      ...(version !== undefined ? { version } : {}),
    });
    const synced = await syncChanged(
      folder,
      result.restored.map((r) => r.path),
    );
    emit(options.json, { ...result, synced }, () =>
      [
        ...result.restored.map((r) => `restored ${forTerminal(r.path)} (from ${r.commit.slice(0, 12)})`),
        synced === "paused" ? "the folder is paused: the restored files are synced at `cloudbridge resume`." : "synced as a new change.",
      ].join("\n"),
    );
  } finally {
    folder.close();
  }
}
