import { findFolder, readSettings } from "../../folder/index.ts";
import { LocalRepo, MAIN_REF } from "../../sync/local-repo.ts";
import { CliError } from "../errors.ts";
import { forTerminal } from "../../terminal-text.ts";
import { emit } from "../output.ts";
import { LOG_FORMAT, parseLog } from "../../history/git-log.ts";

export async function logCommand(given: string | undefined, options: { maxCount: string; files?: boolean; json?: boolean }): Promise<void> {
  const dir = await findFolder(given);
  const count = Number(options.maxCount);
  if (!Number.isInteger(count) || count < 1)
    throw new CliError("invalid-option", `-n ${JSON.stringify(options.maxCount)} is not a positive number.`);
  await readSettings(dir); // a clear error for a folder that is not synced
  const repo = new LocalRepo(dir);
  if (!(await repo.head())) {
    emit(options.json, [], () => "nothing synced yet");
    return;
  }
  const { stdout } = await repo.git.run([
    "log",
    "-z",
    `--format=${LOG_FORMAT}`,
    "-n",
    String(count),
    ...(options.files ? ["--name-status", "-m", "--first-parent"] : []),
    MAIN_REF,
    "--",
  ]);
  const entries = parseLog(stdout).map(({ files, ...entry }) => ({ ...entry, ...(options.files ? { files } : {}) }));
  emit(options.json, entries, () =>
    entries
      .map((e) =>
        [
          `${e.commit.slice(0, 12)} ${forTerminal(e.date)} ${forTerminal(e.author)}${e.merge ? " (merge)" : ""}`,
          `    ${forTerminal(e.subject)}`,
          ...(e.files ?? []).map((f) => `    ${f.status} ${forTerminal(f.path)}`),
        ].join("\n"),
      )
      .join("\n"),
  );
}
