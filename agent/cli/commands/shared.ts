import { forTerminal } from "../../terminal-text.ts";
import type { SyncOnceReport } from "../../sync/engine.ts";
import { assertSettingValues, type SettingValues } from "../../folder/index.ts";

/** Options that set a folder's `cloudbridge.*` git config, shared by init and clone. */
export interface FolderSettingsFlags {
  listen?: string;
  topicArn?: string;
  xmppService?: string;
  xmppJid?: string;
  pollInterval?: string;
  wanted?: string;
}

/** The flag that sets each setting, for a refusal to name what the person typed. */
const FLAG_OF = {
  listen: "--listen",
  topicArn: "--topic-arn",
  xmppService: "--xmpp-service",
  xmppJid: "--xmpp-jid",
  pollInterval: "--poll-interval",
  wanted: "--wanted",
} as const satisfies Record<keyof FolderSettingsFlags, string>;

/** The settings the flags give, refused (naming the flag) before init or clone writes or onboards anything. */
export function settingsFrom(flags: FolderSettingsFlags): SettingValues {
  const settings: SettingValues = {
    ...(flags.listen ? { listen: flags.listen } : {}),
    ...(flags.topicArn ? { topicArn: flags.topicArn } : {}),
    ...(flags.xmppService ? { xmppService: flags.xmppService } : {}),
    ...(flags.xmppJid ? { xmppJid: flags.xmppJid } : {}),
    ...(flags.pollInterval ? { pollInterval: flags.pollInterval } : {}),
    ...(flags.wanted ? { wanted: flags.wanted } : {}),
  };
  assertSettingValues(settings, FLAG_OF);
  return settings;
}

/** One or two lines a person reads after a sync. */
export function summarize(report: SyncOnceReport): string {
  const parts = [
    report.committed ? "committed local changes" : "no local changes",
    report.merged ? "merged with the other machines' changes" : undefined,
    report.written || report.deleted ? `updated ${report.written} and removed ${report.deleted} file(s) here` : undefined,
    report.uploadsPending ? `${report.uploadsPending} upload(s) still queued` : undefined,
    report.downloadsPending ? `${report.downloadsPending} download(s) still queued` : undefined,
  ].filter(Boolean);
  const lines = [`${parts.join(", ")}; at ${report.head?.slice(0, 12) ?? "(empty)"}.`];
  for (const v of report.variants)
    lines.push(`both versions kept: ${forTerminal(v.path)} (theirs) and ${forTerminal(v.variant)} (this machine's)`);
  for (const u of report.unwritable) lines.push(`NOT WRITTEN ${forTerminal(JSON.stringify(u.path))} here: ${forTerminal(u.reason)}.`);
  for (const r of report.refused)
    lines.push(`REFUSED ${forTerminal(JSON.stringify(r.path))} from the bucket: ${forTerminal(r.reason)}. Nothing was written for it.`);
  for (const r of report.notUploaded)
    lines.push(`NOT UPLOADED ${forTerminal(JSON.stringify(r.path))}: ${forTerminal(r.reason)}. It stays on this machine only.`);
  for (const r of report.contentNotUploaded)
    lines.push(
      `CONTENT NOT UPLOADED ${forTerminal(JSON.stringify(r.path))}: ${forTerminal(r.reason)} The other machines see the file but cannot get its content until it is uploaded; \`cloudbridge sync\` (or the daemon) tries again.`,
    );
  for (const r of report.notDownloaded)
    lines.push(
      `NOT DOWNLOADED ${forTerminal(JSON.stringify(r.path))}: ${forTerminal(r.reason)} It stays a pointer file here; \`cloudbridge sync\` (or the daemon) tries again.`,
    );
  return lines.join("\n");
}
