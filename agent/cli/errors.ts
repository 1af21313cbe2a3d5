import { ProtocolError } from "../../protocol/errors.ts";
import { forTerminalLines } from "../terminal-text.ts";

/** An error meant for the person at the terminal: `message` says what went wrong and what to do. */
export class CliError extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode = 1) {
    super(message);
    this.name = "CliError";
    this.exitCode = exitCode;
  }
}

export function exitCodeFor(error: unknown): number {
  if (error instanceof CliError) return error.exitCode;
  if (error instanceof ProtocolError) return 2;
  // A folder that is not set up, or set up wrongly: the person must change a command or a setting.
  if (error instanceof Error && (error.name === "SettingsError" || error.name === "FolderError" || error.name === "DaemonAlreadyRunning"))
    return 2;
  return 1;
}

export function reportError(error: unknown): void {
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`cloudbridge: ${forTerminalLines(message)}\n`);
  if (process.env.CLOUDBRIDGE_DEBUG && error instanceof Error && error.stack) process.stderr.write(`${error.stack}\n`);
}
