import type { SyncReport } from "./engine.ts";

/**
 * A round in one line a person reads, in terms of files: what was sent, what arrived, what was merged,
 * naming a few of the files ("a.txt, b.txt and 4,998 more"). Never a commit id: people think in files.
 */
export function roundSummary(report: Pick<SyncReport, "sent" | "written" | "deleted" | "examples" | "merged" | "variants">): string {
  const parts: string[] = [];
  if (report.sent > 0) parts.push(`sent ${files(report.sent)} (${named(report.examples.sent, report.sent)})`);
  const received = report.written + report.deleted;
  if (received > 0) {
    const what = report.deleted === 0 ? files(received) : `${files(received)}, ${count(report.deleted)} of them removed,`;
    parts.push(`received ${what} from the other machines (${named(report.examples.received, received)})`);
  }
  if (report.variants.length > 0)
    parts.push(
      `edited on two machines, both versions kept: ${report.variants
        .slice(0, 3)
        .map((v) => `${v.path} and ${v.variant}`)
        .join(", ")}${report.variants.length > 3 ? ` and ${count(report.variants.length - 3)} more` : ""}`,
    );
  else if (report.merged) parts.push("merged with another machine's changes");
  return parts.length > 0 ? parts.join("; ") : "nothing changed";
}

function count(n: number): string {
  return n.toLocaleString("en");
}

function files(n: number): string {
  return `${count(n)} file${n === 1 ? "" : "s"}`;
}

function named(examples: readonly string[], total: number): string {
  const shown = examples.map((p) => JSON.stringify(p).slice(1, -1));
  return total > shown.length ? `${shown.join(", ")} and ${count(total - shown.length)} more` : shown.join(", ");
}
