import { join } from "node:path";
import { compactRepository, NativeGitEngine, readInfoPacks, takeCompactionLease, type CompactionReport } from "../gitstore/index.ts";
import { EncryptedStore } from "../objectstore/index.ts";
import type { Folder } from "./folder/index.ts";
import type { Logger } from "./log.ts";

/**
 * Compaction of an encrypted repository, done by the daemon: no key is ever in the cloud, so the stack's
 * compaction function skips such a repository, and one of its machines merges the packs instead once the
 * bucket lists more than `cloudbridge.compactAbove` of them — under a lease, so the machines do not all
 * download every pack at once (compaction itself is safe beside another). A clear repository is left to
 * the stack's function.
 */
export class CompactionDuty {
  private running: Promise<CompactionReport | undefined> | undefined;

  private readonly folder: Folder;
  private readonly log: Logger;

  constructor(folder: Folder, log: Logger) {
    this.folder = folder;
    this.log = log;
  }

  /** Looks (one GET of objects/info/packs) and compacts if due; one at a time. Never throws: a failure is logged and tried again later. */
  check(): Promise<CompactionReport | undefined> {
    this.running ??= this.run()
      .catch((error: unknown) => {
        this.log("warn", "compaction.failed", { message: (error as Error).message });
        return undefined;
      })
      .finally(() => (this.running = undefined));
    return this.running;
  }

  private async run(): Promise<CompactionReport | undefined> {
    const { store, layout, settings, gitDir } = this.folder;
    if (!(store instanceof EncryptedStore)) return undefined;
    const repo = settings.location.repo;
    const packs = await readInfoPacks(store, layout, repo);
    if (packs.length <= settings.compactAbove) return undefined;
    const lease = await takeCompactionLease(store, layout, repo, settings.agent);
    if (!lease) return undefined;
    try {
      const report = await compactRepository({
        store,
        layout,
        repo,
        engine: new NativeGitEngine(),
        minPacks: Math.max(2, settings.compactAbove + 1),
        // Beside the repository, not in the system temp folder (a tmpfs on many systems).
        workDir: join(gitDir, "cloudbridge"),
      });
      this.log("info", "compaction", { merged: report.merged.length, published: report.published, deleted: report.deleted.length });
      return report;
    } finally {
      await lease.release();
    }
  }
}
