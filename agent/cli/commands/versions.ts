import { fileVersions } from "../../history/versions.ts";
import { forTerminal } from "../../terminal-text.ts";
import { CliError } from "../errors.ts";
import { locate, openQuietly, typedPath } from "../folder-path.ts";
import { formatBytes } from "../transfer-progress.ts";
import { emit } from "../output.ts";

export async function versionsCommand(file: string, options: { maxCount: string; json?: boolean }): Promise<void> {
  const count = Number(options.maxCount);
  if (!Number.isInteger(count) || count < 1)
    throw new CliError("invalid-option", `-n ${JSON.stringify(options.maxCount)} is not a positive number.`);
  const { root, path } = await locate(file);
  const folder = await openQuietly(root);
  try {
    const versions = await fileVersions(folder.repo.git, path, count);
    if (versions.length === 0) throw new CliError("no-match", `${file} has no history in this folder.`);
    emit(options.json, { path, versions }, () =>
      [
        `${forTerminal(path)}: ${versions.length} version(s), newest first (restore one: cloudbridge restore ${typedPath(root, path)} --version N)`,
        ...versions.map(
          (v) =>
            `  ${String(v.version).padStart(3)}  ${forTerminal(v.date)}  ${v.deleted ? "deleted".padEnd(10) : (v.size !== undefined ? formatBytes(v.size) : "").padEnd(10)}  ${forTerminal(v.author)}  ${v.commit.slice(0, 12)}`,
        ),
      ].join("\n"),
    );
  } finally {
    folder.close();
  }
}
