import { forTerminal } from "../../terminal-text.ts";
import { byKey, commandDir, jsonLine, openAnnexContext, reportTransfers, resolveTargets } from "../annex-context.ts";
import { CliError } from "../errors.ts";
import { formatBytes } from "../transfer-progress.ts";

/**
 * `cloudbridge copy --to cloud [paths]` (git-annex's name): uploads annexed content this folder has to the
 * cloud and records it there — the way back after a forced `drop --from cloud`, or for content whose
 * upload never happened. Content that is not here is said, not fetched.
 */
export async function copyCommand(paths: string[], options: { to: string; key?: string[]; json?: boolean; dir?: string }): Promise<void> {
  if (options.to !== "cloud") throw new CliError("invalid-option", `--to ${JSON.stringify(options.to)}: the only remote is "cloud".`);
  const cwd = commandDir(options.dir);
  const context = await openAnnexContext({ cwd, paths });
  const targets = await resolveTargets(context, paths, options.key, cwd);
  const keys = byKey(targets);
  let missing = 0;
  const here: string[] = [];
  for (const [key, forKey] of keys) {
    if (await context.annex.local.has(key)) {
      here.push(key);
      continue;
    }
    for (const target of forKey) {
      missing++;
      const message = "its content is not in this folder: `cloudbridge get` it first, or copy it from a machine that has it";
      if (options.json) process.stdout.write(jsonLine("copy", target, { success: false, error: message }));
      else process.stderr.write(`copy ${forTerminal(target.path ?? target.key)}: failed: ${message}\n`);
    }
  }
  const report = reportTransfers<{ uploaded: boolean; size: number }>("copy", keys, options.json ?? false, (result) => ({
    fields: { to: "cloud", uploaded: result.uploaded },
    text: ` (to cloud): ${result.uploaded ? `ok (${formatBytes(result.size)})` : "ok (already there)"}`,
  }));
  try {
    await context.annex.upload(
      here.map((key) => ({ key, fileName: keys.get(key)![0]!.path ?? key })),
      report,
    );
  } finally {
    report.stop();
  }
  const failed = missing + report.failed();
  if (failed > 0) throw new CliError("incomplete", `${failed} of ${targets.length} file(s) could not be copied to the cloud.`);
}
