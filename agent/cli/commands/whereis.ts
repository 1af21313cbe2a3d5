import { indexedFiles } from "../../../annex/index.ts";
import { forTerminal } from "../../terminal-text.ts";
import { commandDir, jsonLine, openAnnexContext, pathSpecs, resolveTargets, type Target } from "../annex-context.ts";
import { CliError } from "../errors.ts";

export async function whereisCommand(
  paths: string[],
  options: { key?: string[]; fetch: boolean; json?: boolean; dir?: string },
): Promise<void> {
  const cwd = commandDir(options.dir);
  const context = await openAnnexContext({ cwd, paths });
  if (options.fetch) await context.receive();
  // Every file the folder's history holds is answered: small files are in git, hence on every machine.
  const specs = await pathSpecs(context, paths, cwd);
  const files = (options.key?.length ?? 0) > 0 && paths.length === 0 ? [] : await indexedFiles(context.gitDir, context.workTree, specs);
  if (paths.length > 0 && files.length === 0)
    throw new CliError(
      "no-match",
      `${paths.map((p) => JSON.stringify(p)).join(", ")}: not in the folder's history (new and not synced yet, or refused: see \`cloudbridge status\`).`,
    );
  const annexed: Target[] = files.flatMap((f) => (f.key ? [{ key: f.key, path: f.path, mode: f.mode }] : []));
  const targets = [...annexed, ...(options.key?.length ? await resolveTargets(context, [], options.key, cwd) : [])];
  const inGit = files.filter((f) => !f.key);
  for (const file of inGit) {
    if (options.json)
      process.stdout.write(
        `${JSON.stringify({ command: "whereis", file: file.path, success: true, inGit: true, whereis: "every machine" })}\n`,
      );
    else process.stdout.write(`whereis ${forTerminal(file.path)}: in git, on every machine syncing this folder\n`);
  }
  for (const target of targets) {
    const locations = await context.annex.whereis(target.key);
    if (options.json) {
      process.stdout.write(jsonLine("whereis", target, { success: true, whereis: locations }));
      continue;
    }
    // git-annex's layout: "whereis FILE (N copies)", one "<uuid> -- <description>" line per copy.
    const lines = [`whereis ${forTerminal(target.path ?? target.key)} (${locations.length} cop${locations.length === 1 ? "y" : "ies"})`];
    for (const l of locations)
      lines.push(
        `  \t${forTerminal(l.uuid)} -- ${forTerminal(l.description || "(no description)")}${l.here ? " [here]" : ""}${l.cloud ? " [cloud]" : ""}`,
      );
    process.stdout.write(`${lines.join("\n")}\n`);
  }
}
