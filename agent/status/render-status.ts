import { formatBytes } from "../cli/transfer-progress.ts";
import { forTerminal } from "../terminal-text.ts";
import type { DaemonState, FolderStatus } from "./folder-status.ts";

/** The status for a person: the local part always, then the cloud part or why it is missing. */
export function renderStatus(status: FolderStatus): string {
  const lines = [
    `${status.folder}  ↔  ${status.remote}`,
    `agent ${status.agent} (${forTerminal(status.description)}), at ${status.head?.slice(0, 12) ?? "(nothing synced yet)"}`,
  ];
  const { unpushed } = status;
  const cloudAt = unpushed.cloudHead ? `the cloud at ${unpushed.cloudHead.slice(0, 12)}` : "the cloud has no commit yet";
  const seen = unpushed.as === "read-now" ? "read now" : "as last seen";
  lines.push(
    unpushed.commits > 0
      ? `${unpushed.commits} commit(s) not in the cloud yet (${cloudAt}, ${seen}): the next round pushes them`
      : `every commit is in the cloud (${cloudAt}, ${seen})`,
  );
  lines.push(...daemonLines(status.daemon));
  if (status.paused) lines.push(`PAUSED since ${forTerminal(status.paused.since)}: nothing is synced until \`cloudbridge resume\``);
  if (status.localChanges === null) lines.push("local changes: unknown (see below)");
  else {
    const local = status.localChanges;
    lines.push(local.length ? `${local.length} local change(s) not synced yet:` : "no local changes waiting");
    lines.push(...local.slice(0, 20).map((c) => `  ${c.change.padEnd(8)} ${forTerminal(c.path)}`));
    if (local.length > 20) lines.push(`  … and ${local.length - 20} more`);
  }
  if (status.refused.length > 0) {
    lines.push(`${status.refused.length} path(s) not synced:`);
    const label = {
      "not-uploaded": "NOT UPLOADED",
      "refused-from-bucket": "REFUSED from the bucket",
      "not-written": "NOT WRITTEN here",
    } as const;
    for (const r of status.refused.slice(0, 20))
      lines.push(`  ${label[r.kind]} ${forTerminal(JSON.stringify(r.path))}: ${forTerminal(r.reason)}`);
    if (status.refused.length > 20) lines.push(`  … and ${status.refused.length - 20} more`);
  }
  const up = status.transfers.queued.filter((j) => j.direction === "up").length;
  const down = status.transfers.queued.filter((j) => j.direction === "down").length;
  lines.push(`transfers queued: ${up} up, ${down} down`);
  const failed = status.transfers.queued.filter((j) => j.failed !== undefined);
  for (const j of failed.slice(0, 20))
    lines.push(
      `  ${j.direction === "down" ? "NOT DOWNLOADED" : "CONTENT NOT UPLOADED"} ${forTerminal(JSON.stringify(j.path ?? j.key))} (its last attempt failed): ${forTerminal(j.failed ?? "")}`,
    );
  if (failed.length > 20) lines.push(`  … and ${failed.length - 20} more transfers that failed`);
  for (const t of status.transfers.running) {
    const percent = t.total > 0 ? ` (${Math.floor((100 * t.done) / t.total)} %)` : "";
    lines.push(
      `  ${t.direction === "up" ? "uploading" : "downloading"} ${forTerminal(t.path ?? t.key)}: ${formatBytes(t.done)} of ${formatBytes(t.total)}${percent}`,
    );
  }
  const { cloud } = status;
  if (cloud.reachable === true) {
    if (cloud.machines.length) {
      lines.push("machines syncing this folder:");
      for (const a of cloud.machines)
        lines.push(
          `  ${a.agent === status.agent ? "*" : " "} ${[a.description, `(${a.host})`, a.state].map(forTerminal).join(" ")}, last seen ${forTerminal(a.lastSeen)}, ${forTerminal(a.listen)}`,
        );
    } else lines.push("no machine has announced itself yet (a daemon does at start)");
  } else if (cloud.reachable === false) lines.push(`cloud: NOT REACHED — ${forTerminal(cloud.reason)}`);
  else lines.push(`cloud: ${cloud.reason}`);
  for (const p of status.problems.filter((p) => p.part === "local")) lines.push(`local: ${forTerminal(p.message)}`);
  return lines.join("\n");
}

function daemonLines(daemon: DaemonState | null): string[] {
  if (!daemon) return ["daemon: not running (start it with `cloudbridge daemon` or `cloudbridge service install`)"];
  if (!daemon.running)
    return [
      `daemon: not running (last pid ${daemon.pid}${daemon.lastSync ? `, last sync ${daemon.lastSync}` : ""}); start it with \`cloudbridge daemon\``,
    ];
  const l = daemon.listener;
  let listening: string;
  if (!l) listening = "listener unknown";
  else if (l.state === "listening") listening = `listening by ${l.active}`;
  else if (l.state === "connecting") listening = `connecting ${l.active}…`;
  else if (l.state === "down") listening = `${l.active} listener DOWN since ${l.since} (${forTerminal(l.error ?? "")}), retrying`;
  else
    listening = `${l.configured} listener FAILED (${forTerminal(l.error ?? "")})${l.active !== l.configured ? `; polling instead` : "; full rounds only"}`;
  const lines = [`daemon: running (pid ${daemon.pid}), ${listening}`];
  const w = daemon.watcher;
  if (w?.state === "failed")
    lines.push(
      `folder watcher FAILED since ${w.since}: ${forTerminal(w.error)}; local changes are found by a scan every ${w.scanEveryS} s instead`,
    );
  const round = daemon.lastRound;
  if (round) lines.push(`last round: ${round.at} (${round.why}), ${round.ok ? "ok" : `FAILED: ${forTerminal(round.error ?? "")}`}`);
  return lines;
}
