import type { Command } from "commander";
import { openSyncedFolder } from "../../folder/index.ts";
import { readFolderStatus } from "../../status/folder-status.ts";
import { forTerminal } from "../../terminal-text.ts";
import { cliLogger, emit } from "../output.ts";

export function statusCommand(program: Command): void {
  program
    .command("status")
    .description("What a synced folder is doing: its remote, changes not yet synced, queued transfers, the daemon, the other machines.")
    .argument("[dir]", "the synced folder", ".")
    .option("--json", "print the status as JSON")
    .option("--offline", "do not ask the bucket which other machines sync this folder")
    .action(async (dir: string, options: { json?: boolean; offline?: boolean }) => {
      const folder = await openSyncedFolder(dir, { log: cliLogger({ quiet: true }) });
      try {
        const status = await readFolderStatus(folder, { ...(options.offline ? { offline: true } : {}) });
        const { daemon, agents, localChanges: local } = status;
        emit(options.json, status, () => {
          const lines = [
            `${status.folder}  ↔  ${status.remote}`,
            `agent ${status.agent} (${forTerminal(status.description)}), at ${status.head?.slice(0, 12) ?? "(nothing synced yet)"}`,
            daemon
              ? `daemon: ${daemon.running ? `running (pid ${daemon.pid}, listening by ${daemon.listen})` : `not running (last pid ${daemon.pid})`}${daemon.lastSync ? `, last sync ${daemon.lastSync}` : ""}${daemon.lastError ? `, last error: ${forTerminal(daemon.lastError)}` : ""}`
              : "daemon: not running (start it with `cloudbridge daemon` or `cloudbridge service install`)",
            local.length ? `${local.length} local change(s) not synced yet:` : "no local changes waiting",
            ...local.slice(0, 20).map((c) => `  ${c.change.padEnd(8)} ${forTerminal(c.path)}`),
            ...(local.length > 20 ? [`  … and ${local.length - 20} more`] : []),
            `transfers queued: ${status.uploads} up, ${status.downloads} down`,
            ...(status.paused ? [`PAUSED since ${forTerminal(status.paused.since)}: nothing is synced until \`cloudbridge resume\``] : []),
          ];
          if (agents.length) {
            lines.push("machines syncing this folder:");
            for (const a of agents)
              lines.push(
                `  ${a.agent === status.agent ? "*" : " "} ${[a.description, `(${a.host})`, a.state].map(forTerminal).join(" ")}, last seen ${forTerminal(a.lastSeen)}, ${forTerminal(a.listen)}`,
              );
          }
          return lines.join("\n");
        });
      } finally {
        folder.close();
      }
    });
}
