import type { Command } from "commander";
import { findFolder, readSettings } from "../../folder/index.ts";
import { splitNul } from "../../../localgit/index.ts";
import { LocalRepo, MAIN_REF } from "../../sync/local-repo.ts";
import { CliError } from "../errors.ts";
import { forTerminal } from "../../terminal-text.ts";
import { emit } from "../output.ts";

export function logCommand(program: Command): void {
  program
    .command("log")
    .description("The folder's history: who changed what, and when (newest first).")
    .argument("[dir]", "the synced folder (default: the one around the current directory)")
    .option("-n, --max-count <n>", "how many changes to show", "20")
    .option("--files", "list the files each change touched")
    .option("--json", "print the history as JSON")
    .action(async (given: string | undefined, options: { maxCount: string; files?: boolean; json?: boolean }) => {
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
    });
}

/** Six fields per commit, NUL-separated: git cuts every field at a NUL, so none can hold a separator. */
const LOG_FORMAT = "%H%x00%P%x00%an%x00%ae%x00%aI%x00%s";
const OID = /^[0-9a-f]{40}([0-9a-f]{24})?$/;
/** A `--name-status` letter (with a similarity score for renames and copies); never an object id. */
const FILE_STATUS = /^[A-Z][0-9]*$/;

export interface LogEntry {
  commit: string;
  merge: boolean;
  author: string;
  agent: string;
  date: string;
  subject: string;
  files: Array<{ status: string; path: string }>;
}

/**
 * `git log -z --format=LOG_FORMAT [--name-status]`: each commit is its six fields, then (with
 * --name-status) a newline and its files as status, path (two paths for a rename or copy), all
 * NUL-terminated. Read field by field, so neither a subject nor a file name can start a record.
 */
export function parseLog(stdout: Buffer): LogEntry[] {
  const fields = splitNul(stdout);
  const entries: LogEntry[] = [];
  let i = 0;
  while (i < fields.length) {
    const commit = fields[i]!.replace(/^\n/, "");
    if (!OID.test(commit) || i + 6 > fields.length) {
      throw new Error(`git log printed something unexpected at ${JSON.stringify(commit.slice(0, 60))}`);
    }
    const [parents, author, email, date, subject] = fields.slice(i + 1, i + 6) as [string, string, string, string, string];
    i += 6;
    const files: LogEntry["files"] = [];
    while (i < fields.length && FILE_STATUS.test(fields[i]!.replace(/^\n/, ""))) {
      const status = fields[i]!.replace(/^\n/, "");
      const count = /^[RC]/.test(status) ? 2 : 1;
      files.push({ status, path: fields.slice(i + 1, i + 1 + count).join(" → ") });
      i += 1 + count;
    }
    const agent = email.replace(/@cloudbridge$/, "");
    entries.push({ commit, merge: parents.split(" ").length > 1, author, agent, date, subject, files });
  }
  return entries;
}
