import { Command, CommanderError } from "commander";
import { COMMANDS, type CommandDescriptor } from "./command-list.ts";

/**
 * `cloudbridge`: every command is declared in ./command-list.ts and implemented in its own file under
 * ./commands, imported only when it runs (start-up stays at Node's own: docs/performance.md). Errors reach
 * the user as one clear line (and a code), never as a stack trace, unless CLOUDBRIDGE_DEBUG is set.
 */
export function buildProgram(): Command {
  const program = new Command("cloudbridge")
    .description("Keep folders in sync through an S3 bucket you own.")
    .version("0.1.0")
    .showHelpAfterError("(run with --help for usage)")
    .enablePositionalOptions()
    .exitOverride();
  for (const descriptor of COMMANDS) addCommand(program, descriptor);
  return program;
}

function addCommand(parent: Command, descriptor: CommandDescriptor): void {
  const command = parent.command(descriptor.name).description(descriptor.description);
  for (const [name, description, defaultValue] of descriptor.arguments ?? []) command.argument(name, description, defaultValue);
  for (const [flags, description, defaultValue] of descriptor.requiredOptions ?? [])
    command.requiredOption(flags, description, defaultValue);
  for (const [flags, description, defaultValue] of descriptor.options ?? []) command.option(flags, description, defaultValue);
  if (descriptor.passThrough) command.helpOption(false).allowUnknownOption().allowExcessArguments();
  for (const subcommand of descriptor.subcommands ?? []) addCommand(command, subcommand);
  const { load } = descriptor;
  if (load) command.action(async (...args: unknown[]) => ((await load()) as (...args: unknown[]) => Promise<void>)(...args));
}

export async function main(argv: string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv, { from: "user" });
    return 0;
  } catch (error) {
    // Help and --version end at 0; anything else commander refuses (an unknown option or command, a missing
    // argument) is a command to change: exit 2, as every other such refusal (docs/agent.md), not commander's 1.
    if (error instanceof CommanderError) return error.exitCode === 0 ? 0 : 2;
    // Loaded here: it knows every package's error codes, hence loads those packages.
    const { explainError, exitCodeFor, reportError } = await import("./errors.ts");
    const explained = explainError(error);
    reportError(explained);
    return exitCodeFor(explained);
  }
}

if (import.meta.main) {
  process.exitCode = await main(process.argv.slice(2));
}
