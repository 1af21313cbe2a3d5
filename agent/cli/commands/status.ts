import type { Command } from "commander";
import { readDaemonStatus, type DaemonStatus } from "../../daemon.ts";
import { openSyncedFolder } from "../../folder/index.ts";
import { readPresence } from "../../presence.ts";
import { formatRemoteUrl } from "../../../protocol/index.ts";
import { scan } from "../../sync/scanner.ts";
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
        const { changes } = await scan(folder.root, folder.repo.cache, folder.repo.git, folder.content);
        const queued = await folder.content.queue.list();
        const daemon = await readDaemonStatus(folder.root);
        const agents = options.offline ? [] : await readPresence(folder.store, folder.settings.location);
        const local = [...changes].map(([path, entry]) => ({ path, change: entry ? "changed" : "deleted" }));
        const status = {
          folder: folder.root,
          remote: formatRemoteUrl(folder.settings.location),
          agent: folder.settings.agent,
          description: folder.settings.description,
          head: folder.repo.cache.commit ?? null,
          localChanges: local,
          uploads: queued.filter((j) => j.direction === "up").length,
          downloads: queued.filter((j) => j.direction === "down").length,
          daemon: daemon ?? null,
          agents,
        };
        emit(options.json, status, () => {
          const lines = [
            `${status.folder}  ↔  ${status.remote}`,
            `agent ${status.agent} (${forTerminal(status.description)}), at ${status.head?.slice(0, 12) ?? "(nothing synced yet)"}`,
            daemon
              ? `daemon: ${daemon.running ? `running (pid ${daemon.pid})` : `not running (last pid ${daemon.pid})`}${daemon.lastSync ? `, last sync ${daemon.lastSync}` : ""}${daemon.lastError ? `, last error: ${forTerminal(daemon.lastError)}` : ""}`
              : "daemon: not running (start it with `cloudbridge daemon` or `cloudbridge service install`)",
            ...(daemon?.running ? [listenerLine(daemon)] : []),
            local.length ? `${local.length} local change(s) not synced yet:` : "no local changes waiting",
            ...local.slice(0, 20).map((c) => `  ${c.change.padEnd(8)} ${forTerminal(c.path)}`),
            ...(local.length > 20 ? [`  … and ${local.length - 20} more`] : []),
            `transfers queued: ${status.uploads} up, ${status.downloads} down`,
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

/** Which listener the daemon uses and whether it works, as the daemon last recorded it (never the configured one alone). */
function listenerLine(daemon: DaemonStatus): string {
  const l = daemon.listener ?? {};
  const what = `listening by ${daemon.listen}${l.detail ? ` (${forTerminal(l.detail)})` : ""}`;
  const state = l.working === undefined ? "" : l.working ? ": working" : `: NOT working${l.error ? ` (${forTerminal(l.error)})` : ""}`;
  const fallback = l.fallbackFrom ? `; ${l.fallbackFrom} failed${l.problem ? `: ${forTerminal(l.problem)}` : ""}` : "";
  return `${what}${state}${fallback}`;
}
