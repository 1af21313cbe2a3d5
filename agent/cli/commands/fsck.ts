import { forTerminal } from "../../terminal-text.ts";
import { commandDir, fromCloud, jsonLine, openAnnexContext, resolveTargets } from "../annex-context.ts";
import { CliError } from "../errors.ts";

export async function fsckCommand(
  paths: string[],
  options: { key?: string[]; from?: string; json?: boolean; dir?: string },
): Promise<void> {
  fromCloud(options.from);
  const cwd = commandDir(options.dir);
  const context = await openAnnexContext({ cwd, paths });
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
}
