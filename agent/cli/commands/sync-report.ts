import type { SyncOnceReport } from "../../sync/engine.ts";
import { emit } from "../output.ts";
import { summarize } from "./shared.ts";

/** What `cloudbridge sync` prints of a sync (done here or by the daemon), and its refusal when content was refused. */
export async function reportSync(root: string, report: SyncOnceReport, options: { json?: boolean }): Promise<void> {
  emit(options.json, { folder: root, ...report }, () => summarize(report));
  await refuseIncomplete(report);
}

/**
 * The one-shot commands' contract (`sync`, `clone`), as rsync's exit 23 and `git annex get`'s exit 1: the
 * round went on past every path it could not sync, each listed with its reason above, and then the command
 * ends with the content-refused error (exit 3) so that a script does not take the folder for complete.
 */
export async function refuseIncomplete(report: SyncOnceReport): Promise<void> {
  const what = [
    report.refused.length > 0 ? `refused ${report.refused.length} path(s) from the bucket` : undefined,
    report.notUploaded.length > 0 ? `did not upload ${report.notUploaded.length} local path(s)` : undefined,
    report.unwritable.length > 0 ? `could not write ${report.unwritable.length} path(s) here (read-only?)` : undefined,
    report.notDownloaded.length > 0 ? `could not download the content of ${report.notDownloaded.length} file(s)` : undefined,
    report.contentNotUploaded.length > 0 ? `could not upload the content of ${report.contentNotUploaded.length} file(s)` : undefined,
  ].filter(Boolean);
  if (what.length === 0) return;
  const { CliError } = await import("../errors.ts");
  throw new CliError("content-refused", `${what.join(" and ")} (listed above); everything else is in sync.`);
}
