import { LocalCloudError } from "./errors.ts";
import { stopSignal } from "./stop-signal.ts";

/**
 * `cloudbridge local` in a terminal, with or without --stack: start the cloud on its port, say what runs
 * (one JSON line with --json, else lines for a person), run until Ctrl-C or SIGTERM, then stop it.
 */
export interface ServedCloud {
  readonly env: Readonly<Record<string, string>>;
  stop(): Promise<void>;
}

export async function serveUntilStopped<C extends ServedCloud>(options: {
  port: number;
  json?: boolean | undefined;
  /** Starts the cloud; `log` is where it reports what happens while it runs. */
  start: (log: (line: string) => void) => Promise<C>;
  /** What --json prints, as one line. */
  record: (cloud: C) => object;
  /** What a person is told (`exportLines` gives the environment's). */
  lines: (cloud: C) => string[];
  /** Set up once the cloud runs; what it returns is run before the cloud stops. */
  whileRunning?: (cloud: C) => () => void;
}): Promise<void> {
  let cloud: C;
  try {
    cloud = await options.start((line) => process.stderr.write(`cloudbridge local: ${line}\n`));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EADDRINUSE") {
      throw new LocalCloudError(
        "local-port-in-use",
        `port ${options.port} is already in use: stop what runs there, or pass --port 0 to pick a free port.`,
      );
    }
    throw error;
  }
  const undo = options.whileRunning?.(cloud);
  process.stdout.write(options.json ? `${JSON.stringify(options.record(cloud))}\n` : `${options.lines(cloud).join("\n")}\n`);
  await stopSignal();
  undo?.();
  await cloud.stop();
  if (!options.json) process.stdout.write("cloudbridge local stopped.\n");
}

/** The environment that points an AWS SDK or CLI at the cloud, as shell lines. */
export function exportLines(env: Readonly<Record<string, string>>): string[] {
  return Object.entries(env).map(([name, value]) => `  export ${name}=${value}`);
}
