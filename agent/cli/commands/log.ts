import type { Command } from "commander";
import { readSettings } from "../../settings.ts";
import { LocalRepo, MAIN_REF } from "../../sync/local-repo.ts";
import { CliError } from "../errors.ts";
import { emit } from "../output.ts";

export function logCommand(program: Command): void {
  program
    .command("log")
    .description("The folder's history: who changed what, and when (newest first).")
    .argument("[dir]", "the synced folder", ".")
    .option("-n, --max-count <n>", "how many changes to show", "20")
    .option("--files", "list the files each change touched")
    .option("--json", "print the history as JSON")
    .action(async (dir: string, options: { maxCount: string; files?: boolean; json?: boolean }) => {
      const count = Number(options.maxCount);
      if (!Number.isInteger(count) || count < 1)
        throw new CliError("invalid-option", `-n ${JSON.stringify(options.maxCount)} is not a positive number.`);
      await readSettings(dir); // a clear error for a folder that is not synced
      const repo = new LocalRepo(dir);
      if (!(await repo.head())) {
        emit(options.json, [], () => "nothing synced yet");
        return;
      }
      const format = "%x1e%H%x1f%P%x1f%an%x1f%ae%x1f%aI%x1f%s";
      const { stdout } = await repo.git.run([
        "log",
        `--format=${format}`,
        "-n",
        String(count),
        ...(options.files ? ["--name-status", "-m", "--first-parent"] : []),
        MAIN_REF,
        "--",
      ]);
      const entries = stdout
        .toString()
        .split("\x1e")
        .filter((r) => r.trim())
        .map((record) => {
          const [header, ...rest] = record.split("\n");
          const [commit, parents, author, email, date, subject] = header!.split("\x1f");
          const files = rest
            .filter((line) => line.includes("\t"))
            .map((line) => {
              const [status, ...paths] = line.split("\t");
              return { status: status!, path: paths.join(" → ") };
            });
          return {
            commit: commit!,
            merge: (parents ?? "").split(" ").length > 1,
            author: author!,
            agent: email!.replace(/@cloudbridge$/, ""),
            date: date!,
            subject: subject!,
            ...(options.files ? { files } : {}),
          };
        });
      emit(options.json, entries, () =>
        entries
          .map((e) =>
            [
              `${e.commit.slice(0, 12)} ${e.date} ${e.author}${e.merge ? " (merge)" : ""}`,
              `    ${e.subject}`,
              ...(e.files ?? []).map((f) => `    ${f.status} ${f.path}`),
            ].join("\n"),
          )
          .join("\n"),
      );
    });
}
