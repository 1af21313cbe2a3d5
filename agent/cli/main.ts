import { Command, CommanderError } from "commander";
import { cloneCommand } from "./commands/clone.ts";
import { compactCommand } from "./commands/compact.ts";
import { copyCommand } from "./commands/copy.ts";
import { daemonCommand } from "./commands/daemon.ts";
import { dropCommand } from "./commands/drop.ts";
import { fsckCommand } from "./commands/fsck.ts";
import { getCommand } from "./commands/get.ts";
import { initCommand } from "./commands/init.ts";
import { keyCommand } from "./commands/key.ts";
import { inviteCommand } from "./commands/invite.ts";
import { localCommand } from "./commands/local.ts";
import { logCommand } from "./commands/log.ts";
import { removeQueueCommand } from "./commands/remove-queue.ts";
import { serviceCommand } from "./commands/service.ts";
import { statusCommand } from "./commands/status.ts";
import { syncCommand } from "./commands/sync.ts";
import { whereisCommand } from "./commands/whereis.ts";
import { conflictsCommand } from "./commands/conflicts.ts";
import { versionsCommand } from "./commands/versions.ts";
import { restoreCommand } from "./commands/restore.ts";
import { pauseCommand } from "./commands/pause.ts";
import { resumeCommand } from "./commands/resume.ts";
import { limitCommand } from "./commands/limit.ts";
import { openCommand } from "./commands/open.ts";
import { CliError, exitCodeFor, explainError, reportError } from "./errors.ts";

/**
 * `cloudbridge`: one file per command under ./commands, each exporting a function that adds itself to
 * the program. Errors reach the user as one clear line (and a code), never as a stack trace, unless
 * CLOUDBRIDGE_DEBUG is set.
 */
export function buildProgram(): Command {
  const program = new Command("cloudbridge")
    .description("Keep folders in sync through an S3 bucket you own.")
    .version("0.1.0")
    .showHelpAfterError("(run with --help for usage)")
    .enablePositionalOptions()
    .exitOverride();
  for (const register of [
    initCommand,
    cloneCommand,
    inviteCommand,
    syncCommand,
    daemonCommand,
    statusCommand,
    logCommand,
    conflictsCommand,
    versionsCommand,
    restoreCommand,
    pauseCommand,
    resumeCommand,
    limitCommand,
    openCommand,
    getCommand,
    dropCommand,
    copyCommand,
    whereisCommand,
    fsckCommand,
    serviceCommand,
    localCommand,
    compactCommand,
    keyCommand,
    removeQueueCommand,
  ])
    register(program);
  return program;
}

export async function main(argv: string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv, { from: "user" });
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode;
    const explained = explainError(error);
    reportError(explained);
    return exitCodeFor(explained);
  }
}

if (import.meta.main) {
  process.exitCode = await main(process.argv.slice(2));
}

export { CliError };
