import type { Command } from "commander";
import { runDaemons } from "../../daemon.ts";
import { createLogger } from "../../log.ts";
import { findFolder, SETTING_NAMES } from "../../folder/index.ts";

export function daemonCommand(program: Command): void {
  program
    .command("daemon")
    .description(
      "Keep DIR in sync until stopped (Ctrl-C or SIGTERM): watch, commit, push, listen, pull, merge, transfer. Several DIRs: one daemon serves all of a machine's folders (an agent's queue has one reader).",
    )
    .argument("[dirs...]", "the synced folders (default: the one around the current directory)")
    .option("--listen <how>", "override cloudbridge.listen for this run: auto, xmpp, sqs or poll")
    .option("--poll-interval <seconds>", "override cloudbridge.pollInterval for this run")
    .option("--reconcile-interval <seconds>", "override cloudbridge.reconcileInterval: a full sync at least this often")
    .option("--debounce <ms>", "override cloudbridge.debounce: quiet time before a burst of changes is committed")
    .option("--ui-port <port>", "override cloudbridge.uiPort: the page's port on 127.0.0.1 (0: any free one) or off")
    .option("--compact-above <packs>", "override cloudbridge.compactAbove: compact an encrypted repository's packs past this many")
    .option("--settle <ms>", "override cloudbridge.settle: how long a changed file must stay unchanged before it is committed")
    .option("--json-log", "structured JSON log lines even on a terminal")
    .action(
      async (
        dirs: string[],
        options: {
          listen?: string;
          pollInterval?: string;
          reconcileInterval?: string;
          debounce?: string;
          uiPort?: string;
          compactAbove?: string;
          settle?: string;
          jsonLog?: boolean;
        },
      ) => {
        // Overrides for this run only: git's own command-line configuration (GIT_CONFIG_COUNT/KEY/VALUE), never written.
        const overrides: Array<[string, string]> = [];
        if (options.listen) overrides.push([SETTING_NAMES.listen, options.listen]);
        if (options.pollInterval) overrides.push([SETTING_NAMES.pollInterval, options.pollInterval]);
        if (options.reconcileInterval) overrides.push([SETTING_NAMES.reconcileInterval, options.reconcileInterval]);
        if (options.debounce) overrides.push([SETTING_NAMES.debounce, `${options.debounce}ms`]);
        if (options.uiPort) overrides.push([SETTING_NAMES.uiPort, options.uiPort]);
        if (options.compactAbove) overrides.push([SETTING_NAMES.compactAbove, options.compactAbove]);
        if (options.settle) overrides.push([SETTING_NAMES.settle, `${options.settle}ms`]);
        overrides.forEach(([key, value], i) => {
          process.env[`GIT_CONFIG_KEY_${i}`] = key;
          process.env[`GIT_CONFIG_VALUE_${i}`] = value;
        });
        if (overrides.length) process.env.GIT_CONFIG_COUNT = String(overrides.length);
        const log = createLogger({ ...(options.jsonLog ? { json: true } : {}) });
        let stop!: () => void;
        const stopped = new Promise<void>((resolve) => (stop = resolve));
        const onSignal = () => stop();
        process.once("SIGINT", onSignal);
        process.once("SIGTERM", onSignal);
        try {
          await runDaemons(dirs.length ? dirs : [await findFolder()], { log, stopped });
        } finally {
          process.off("SIGINT", onSignal);
          process.off("SIGTERM", onSignal);
        }
      },
    );
}
