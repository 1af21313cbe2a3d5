import type { Command } from "commander";
import { forTerminal } from "../../terminal-text.ts";
import { jsonLine, openAnnexContext, resolveTargets } from "../annex-context.ts";

export function whereisCommand(program: Command): void {
  program
    .command("whereis")
    .description("Show which repositories (agents, the cloud) have each annexed file's content, from the git-annex branch.")
    .argument("[paths...]", "files or directories (default: everything annexed)")
    .option("--key <key...>", "a git-annex key instead of a path")
    .option("--no-fetch", "use the local git-annex branch without fetching the cloud's first")
    .option("--json", "one JSON object per file on stdout")
    .action(async (paths: string[], options: { key?: string[]; fetch: boolean; json?: boolean }) => {
      const context = await openAnnexContext();
      if (options.fetch) await context.receive();
      for (const target of await resolveTargets(context, paths, options.key)) {
        const locations = await context.annex.whereis(target.key);
        if (options.json) {
          process.stdout.write(jsonLine("whereis", target, { success: true, whereis: locations }));
          continue;
        }
        // git-annex's layout: "whereis FILE (N copies)", one "<uuid> -- <description>" line per copy.
        const lines = [
          `whereis ${forTerminal(target.path ?? target.key)} (${locations.length} cop${locations.length === 1 ? "y" : "ies"})`,
        ];
        for (const l of locations)
          lines.push(
            `  \t${forTerminal(l.uuid)} -- ${forTerminal(l.description || "(no description)")}${l.here ? " [here]" : ""}${l.cloud ? " [cloud]" : ""}`,
          );
        process.stdout.write(`${lines.join("\n")}\n`);
      }
    });
}
