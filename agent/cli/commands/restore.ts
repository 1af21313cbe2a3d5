import { runGit } from "../../../localgit/index.ts";
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
  if (options.at !== undefined && !(await readableTime(options.at)))
    throw new CliError(
      "invalid-option",
      `--at ${JSON.stringify(options.at)} is not a time git reads: give an ISO date (2026-11-28T10:00), "yesterday 18:00" or "2 hours ago".`,
    );
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

/**
 * Whether git reads `time` as a time. `git log --before` reads anything, a time it reads nothing from as "now",
 * so a mistyped --at restored the current version; git's careful reading (that of its expiry-date settings)
 * refuses such a time.
 */
async function readableTime(time: string): Promise<boolean> {
  const check = ["config", "--file", "/dev/null", "--type=expiry-date", "--default", time, "--get", "cloudbridge.at"];
  return (await runGit(check, { allowFailure: true })).code === 0;
}
