import { Command, CommanderError } from "commander";
import { CliError, exitCodeFor, explainError, reportError } from "./errors.ts";

/** Each command's module, in the order `--help` lists them. */
const COMMANDS: Record<string, () => Promise<(program: Command) => void>> = {
  init: async () => (await import("./commands/init.ts")).initCommand,
  clone: async () => (await import("./commands/clone.ts")).cloneCommand,
  invite: async () => (await import("./commands/invite.ts")).inviteCommand,
  sync: async () => (await import("./commands/sync.ts")).syncCommand,
  daemon: async () => (await import("./commands/daemon.ts")).daemonCommand,
  status: async () => (await import("./commands/status.ts")).statusCommand,
  log: async () => (await import("./commands/log.ts")).logCommand,
  conflicts: async () => (await import("./commands/conflicts.ts")).conflictsCommand,
  versions: async () => (await import("./commands/versions.ts")).versionsCommand,
  restore: async () => (await import("./commands/restore.ts")).restoreCommand,
  pause: async () => (await import("./commands/pause.ts")).pauseCommand,
  resume: async () => (await import("./commands/resume.ts")).resumeCommand,
  limit: async () => (await import("./commands/limit.ts")).limitCommand,
  open: async () => (await import("./commands/open.ts")).openCommand,
  get: async () => (await import("./commands/get.ts")).getCommand,
  drop: async () => (await import("./commands/drop.ts")).dropCommand,
  copy: async () => (await import("./commands/copy.ts")).copyCommand,
  whereis: async () => (await import("./commands/whereis.ts")).whereisCommand,
  fsck: async () => (await import("./commands/fsck.ts")).fsckCommand,
  service: async () => (await import("./commands/service.ts")).serviceCommand,
  local: async () => (await import("./commands/local.ts")).localCommand,
  compact: async () => (await import("./commands/compact.ts")).compactCommand,
  key: async () => (await import("./commands/key.ts")).keyCommand,
  "remove-queue": async () => (await import("./commands/remove-queue.ts")).removeQueueCommand,
};

/**
 * `cloudbridge`: one file per command under ./commands, each exporting a function that adds itself to
 * the program. Only the command being run is loaded (all of them for `--help` or an unknown word): the
 * commands' modules reach the AWS SDK's clients, XMPP and the onboarding code, and loading every one of
 * them would cost each run of the CLI, and the daemon, tens of MiB of resident memory for nothing.
 * Errors reach the user as one clear line (and a code), never as a stack trace, unless CLOUDBRIDGE_DEBUG
 * is set.
 */
export async function buildProgram(argv: readonly string[] = []): Promise<Command> {
  const program = new Command("cloudbridge")
    .description("Keep folders in sync through an S3 bucket you own.")
    .version("0.1.0")
    .showHelpAfterError("(run with --help for usage)")
    .enablePositionalOptions()
    .exitOverride();
  const name = argv.find((arg) => !arg.startsWith("-"));
  const wanted = name !== undefined && Object.hasOwn(COMMANDS, name) ? [COMMANDS[name]!] : Object.values(COMMANDS);
  for (const register of await Promise.all(wanted.map((load) => load()))) register(program);
  return program;
}

export async function main(argv: string[]): Promise<number> {
  try {
    await (await buildProgram(argv)).parseAsync(argv, { from: "user" });
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
