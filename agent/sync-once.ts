import type { Folder } from "./folder.ts";
import type { SyncReport } from "./sync/engine.ts";

/**
 * One complete sync of a folder, as `cloudbridge sync` (and init, clone) runs it: a round (commit, fetch,
 * merge, update the folder, upload, push), then the downloads the preferred-content rule wants, then one
 * more round to publish where that content now is.
 */
export interface SyncOnceReport extends SyncReport {
  downloadsPending: number;
  uploadsPending: number;
}

export async function syncOnce(folder: Folder, options: { onScanProgress?: (seen: number) => void } = {}): Promise<SyncOnceReport> {
  const report = await folder.engine.sync(undefined, options.onScanProgress ? { onScanProgress: options.onScanProgress } : {});
  const before = await folder.annex.branch.head();
  const downloadsPending = await folder.content.download();
  let final: SyncReport = report;
  if (report.pending || (await folder.annex.branch.head()) !== before) {
    const again = await folder.engine.sync(report.pending ? undefined : []);
    final = {
      ...again,
      committed: again.committed ?? report.committed,
      merged: report.merged || again.merged,
      variants: [...report.variants, ...again.variants],
      written: report.written + again.written,
      deleted: report.deleted + again.deleted,
      refused: [...report.refused, ...again.refused],
      notUploaded: again.notUploaded.length > 0 ? again.notUploaded : report.notUploaded,
      unwritable: again.unwritable,
      scanned: report.scanned,
      hashed: report.hashed + again.hashed,
    };
  }
  return { ...final, downloadsPending, uploadsPending: (await folder.content.queue.list("up")).length };
}
