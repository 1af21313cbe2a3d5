import { stat, writeFile, rename } from "node:fs/promises";
import { forTerminal } from "../../terminal-text.ts";
import { AnnexError, formatPointer, settled, tempPathFor, verifyFile } from "../../../annex/index.ts";
import {
  commandDir,
  fromCloud,
  jsonLine,
  openAnnexContext,
  resolveTargets,
  workTreePath,
  type AnnexContext,
  type Target,
} from "../annex-context.ts";
import { CliError } from "../errors.ts";

export async function dropCommand(
  paths: string[],
  options: { key?: string[]; from?: string; force?: boolean; json?: boolean; dir?: string },
): Promise<void> {
  fromCloud(options.from);
  const cwd = commandDir(options.dir);
  const context = await openAnnexContext({ cwd, paths });
  // What the other machines want and have: the cloud's copy stays while one of them needs it.
  if (options.from && !options.force) await learnWhatOthersWant(context);
  const targets = await resolveTargets(context, paths, options.key, cwd);
  const done = new Map<string, { dropped: boolean } | Error>();
  let refused = 0;
  for (const target of targets) {
    const label = forTerminal(target.path ?? target.key);
    let outcome = done.get(target.key);
    if (!outcome) {
      try {
        outcome = options.from
          ? await context.annex.dropFromCloud(target.key, { force: options.force === true })
          : await context.annex.dropLocal(target.key);
      } catch (error) {
        if (!(error instanceof Error)) throw error;
        outcome = error;
      }
      done.set(target.key, outcome);
    }
    if (outcome instanceof Error) {
      refused++;
      if (options.json) process.stdout.write(jsonLine("drop", target, { success: false, error: outcome.message }));
      else
        process.stderr.write(
          `drop ${label}: ${outcome instanceof AnnexError && outcome.code === "drop-refused" ? "refused" : "failed"}: ${forTerminal(outcome.message)}\n`,
        );
      continue;
    }
    if (!options.from) await unpopulate(context, target);
    const where = options.from ? "from cloud " : "";
    if (options.json)
      process.stdout.write(jsonLine("drop", target, { success: true, dropped: outcome.dropped, from: options.from ?? "here" }));
    else process.stdout.write(`drop ${where}${label}: ${outcome.dropped ? "ok" : "ok (was not there)"}\n`);
  }
  // As with git-annex's assistant: what this folder wants comes back. Said, so nobody thinks it stays away.
  if (!options.from && targets.length > refused && context.folder.settings.wanted === "everything")
    process.stderr.write(
      "note: this folder wants everything (cloudbridge.wanted), so its daemon downloads dropped content again at its next full round; " +
        "to keep content away, `git config cloudbridge.wanted nothing` first (then `cloudbridge get` what you want here).\n",
    );
  if (refused > 0) throw new CliError("incomplete", `${refused} of ${targets.length} file(s) were not dropped.`);
}

/**
 * Fetches the shared git-annex branch, tried a few times: another cloudbridge process of this folder may
 * be publishing it at the same moment. Without it nobody knows whether a machine still needs the cloud's
 * copy, so the drop is refused (fail safe) unless forced.
 */
async function learnWhatOthersWant(context: AnnexContext): Promise<void> {
  let last: unknown;
  for (const wait of [0, 200, 1000]) {
    await new Promise((resolve) => setTimeout(resolve, wait));
    try {
      return await context.receive();
    } catch (error) {
      last = error;
    }
  }
  throw new CliError(
    "incomplete",
    `Refusing to drop from the cloud: could not read what the other machines want (${(last as Error).message}); nothing was dropped. Try again, or use --force.`,
  );
}

/** An unlocked file whose content is exactly the dropped key goes back to being a pointer, as with git-annex. */
async function unpopulate(context: AnnexContext, target: Target): Promise<void> {
  if (!target.path || target.mode === "120000") return;
  const path = workTreePath(context, target.path);
  const info = await stat(path).catch(() => undefined);
  if (!info?.isFile() || (await verifyFile(path, target.key).catch(() => "unreadable")) !== undefined) return;
  const tmp = tempPathFor(path);
  try {
    await writeFile(tmp, formatPointer(target.key), { mode: info.mode & 0o777, flag: "wx" });
    await rename(tmp, path);
  } finally {
    settled(tmp);
  }
}
