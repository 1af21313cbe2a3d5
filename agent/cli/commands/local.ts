import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

/** The cloud on one machine is its own program; the agent never loads the emulator. */
const LOCAL_PROGRAM = fileURLToPath(new URL("../../../local/main.ts", import.meta.url));

/**
 * `cloudbridge local`: bin/cloudbridge runs local/main.ts for it before the agent's CLI loads, so this
 * command only runs when the CLI is started directly (node agent/cli/main.ts local …). It passes its
 * arguments to that program in a child process, forwards Ctrl-C and SIGTERM, and exits as it does.
 * It is listed (../command-list.ts) so that `cloudbridge --help` shows it.
 */
export async function localCommand(args: string[]): Promise<void> {
  // The child has reported its own errors; this process only hands on its exit code.
  process.exit(await runLocalProgram(args));
}

function runLocalProgram(args: readonly string[]): Promise<number> {
  // In a process group of its own, so Ctrl-C at a terminal reaches it once (forwarded from here), not twice:
  // a second SIGINT means "stop now" to it.
  const child = spawn(process.execPath, [...process.execArgv, LOCAL_PROGRAM, ...args], {
    stdio: ["ignore", "inherit", "inherit"],
    detached: true,
  });
  const forward = (signal: NodeJS.Signals) => () => child.kill(signal);
  const onInt = forward("SIGINT");
  const onTerm = forward("SIGTERM");
  process.on("SIGINT", onInt);
  process.on("SIGTERM", onTerm);
  return new Promise((resolve, reject) => {
    child.once("error", reject);
    child.once("exit", (code, signal) => {
      process.off("SIGINT", onInt);
      process.off("SIGTERM", onTerm);
      resolve(code ?? (signal ? 128 + (signal === "SIGINT" ? 2 : 15) : 1));
    });
  });
}
