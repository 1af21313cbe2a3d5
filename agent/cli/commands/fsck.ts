import type { Command } from "commander";
import { forTerminal } from "../../terminal-text.ts";
import { commandDir, fromCloud, jsonLine, openAnnexContext, resolveTargets, withDirOption } from "../annex-context.ts";
import { CliError } from "../errors.ts";

export function fsckCommand(program: Command): void {
  const command = program
    .command("fsck")
    .description(
      "Re-hash annexed content here (or with --from cloud, in the bucket) and report any mismatch. Nothing is deleted or repaired.",
    )
    .argument("[paths...]", "files or directories (default: every key here, or every object in the cloud)")
    .option("--key <key...>", "a git-annex key instead of a path")
    .option("--from <remote>", 'check "cloud" instead of this folder')
    .option("--json", "one JSON object per problem on stdout");
  withDirOption(command).action(async (paths: string[], options: { key?: string[]; from?: string; json?: boolean; dir?: string }) => {
    fromCloud(options.from);
    const cwd = commandDir(options.dir);
    const context = await openAnnexContext({ cwd });
    await context.receive();
    const explicit = paths.length > 0 || (options.key?.length ?? 0) > 0;
    const keys = explicit ? [...new Set((await resolveTargets(context, paths, options.key, cwd)).map((t) => t.key))] : undefined;
    let checked = 0;
    const onKey = () => void checked++;
    const problems = options.from ? await context.annex.fsckCloud(keys, onKey) : await context.annex.fsckLocal(keys, onKey);
    for (const problem of problems) {
      if (options.json)
        process.stdout.write(jsonLine("fsck", { key: problem.key }, { success: false, where: problem.where, error: problem.problem }));
      else process.stdout.write(`fsck ${forTerminal(problem.key)} (${problem.where}): ${forTerminal(problem.problem)}\n`);
    }
    if (!options.json)
      process.stderr.write(`fsck: checked ${checked} key(s) ${options.from ? "in the cloud" : "here"}, ${problems.length} problem(s).\n`);
    if (problems.length > 0) throw new CliError("incomplete", `fsck found ${problems.length} problem(s); nothing was changed.`);
  });
}
