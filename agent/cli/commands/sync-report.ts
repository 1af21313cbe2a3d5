import type { SyncOnceReport } from "../../sync/engine.ts";
import { emit } from "../output.ts";
import { summarize } from "./shared.ts";

/** What `cloudbridge sync` prints of a sync (done here or by the daemon), and its refusal when content was refused. */
export async function reportSync(root: string, report: SyncOnceReport, options: { json?: boolean }): Promise<void> {
  emit(options.json, { folder: root, ...report }, () => summarize(report));
  if (report.refused.length > 0 || report.notUploaded.length > 0 || report.unwritable.length > 0) {
    const what = [
      report.refused.length > 0 ? `refused ${report.refused.length} path(s) from the bucket` : undefined,
      report.notUploaded.length > 0 ? `did not upload ${report.notUploaded.length} local path(s)` : undefined,
      report.unwritable.length > 0 ? `could not write ${report.unwritable.length} path(s) here (read-only?)` : undefined,
    ];
    const { CliError } = await import("../errors.ts");
    throw new CliError("content-refused", `${what.filter(Boolean).join(" and ")} (listed above); everything else is in sync.`);
  }
}
