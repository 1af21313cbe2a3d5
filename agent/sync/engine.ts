import type { AnnexPort } from "./annex-port.ts";
import type { CheckoutResult } from "./checkout.ts";
import { MAIN_REF, type LocalRepo } from "./local-repo.ts";
import { mergeCommits, type MergeOutcome } from "./merge.ts";
import type { RefPush, SyncRemote } from "./remote.ts";
import type { Platform } from "./safe-paths.ts";
import type { ScanResult } from "./scanner.ts";

/**
 * One sync round: commit what changed in the folder, fetch the shared branch, merge (assistant style) or
 * fast-forward, update the folder, push (merging again if someone pushed meanwhile), then move content.
 * Rounds never overlap; asking for a round while one runs queues exactly one more.
 */
export interface ContentSync {
  /** Before the push that publishes `commit`: upload content it references that the cloud lacks. */
  beforePush(commit: string): Promise<void>;
  /** After the folder moved: fetch wanted content whose pointer files were written. */
  afterCheckout(missing: CheckoutResult["missingContent"]): Promise<void>;
  /**
   * On full rounds: queue what the folder still lacks, whatever happened before (a daemon killed between
   * writing a pointer file and queueing its download must not leave the pointer there for good).
   */
  reconcile(repo: LocalRepo): Promise<void>;
}

/** A branch synced next to main that merges without conflicts (the git-annex branch: union merge). */
export interface SideBranch {
  readonly ref: string;
  head(): Promise<string | undefined>;
  /** A commit containing both (never conflicts). */
  merge(ours: string, theirs: string): Promise<string>;
  /** Moves the local branch from `old` to `oid` (compare-and-swap; false when it moved meanwhile). */
  advance(oid: string, old: string | undefined): Promise<boolean>;
}

export interface SyncReport {
  committed?: string;
  /** The commit the shared branch and the folder are at after the round. */
  head?: string;
  merged: boolean;
  variants: MergeOutcome["variants"];
  written: number;
  deleted: number;
  refused: CheckoutResult["refused"];
  /** Local paths not committed nor uploaded (outward symlinks, a `.git` below the top): they stay on this machine. */
  notUploaded: ScanResult["refused"];
  /** Paths this machine could not write (read-only): skipped, everything else synced, tried again each round. */
  unwritable: CheckoutResult["unwritable"];
  /** Local files changed during the round: another round is due. */
  pending: boolean;
  scanned: number;
  hashed: number;
}

export interface SyncEngineOptions {
  annex?: AnnexPort;
  content?: ContentSync;
  side?: SideBranch;
  platform?: Platform;
  log?: (event: string, fields?: Record<string, unknown>) => void;
}

export class SyncEngine {
  readonly repo: LocalRepo;
  readonly remote: SyncRemote;
  private readonly options: SyncEngineOptions;
  private running: Promise<SyncReport> | undefined;
  private queued: { promise: Promise<SyncReport>; paths: Set<string> | undefined } | undefined;

  constructor(repo: LocalRepo, remote: SyncRemote, options: SyncEngineOptions = {}) {
    this.repo = repo;
    this.remote = remote;
    this.options = options;
  }

  /** The push merge callback: both commits' changes kept, against their merge base. */
  readonly merge = async (ours: string, theirs: string): Promise<string> => {
    const outcome = await this.mergeWithBase(ours, theirs);
    return outcome.commit;
  };

  /**
   * A round over these paths (watcher events) or the whole folder (undefined). With `localOnly`, a round
   * that finds nothing to commit does not talk to the remote (the watcher's echo of our own writes).
   */
  sync(paths?: Iterable<string>, options: { localOnly?: boolean; onScanProgress?: (seen: number) => void } = {}): Promise<SyncReport> {
    this.localOnly = (this.running ? this.localOnly : true) && options.localOnly === true;
    this.onScanProgress = options.onScanProgress;
    if (!this.running) return this.start(paths ? new Set(paths) : undefined);
    if (this.queued) {
      if (!paths) this.queued.paths = undefined;
      else if (this.queued.paths) for (const p of paths) this.queued.paths.add(p);
      return this.queued.promise;
    }
    const queued: { promise: Promise<SyncReport>; paths: Set<string> | undefined } = {
      promise: undefined as never,
      paths: paths ? new Set(paths) : undefined,
    };
    queued.promise = this.running
      .catch(() => undefined)
      .then(() => {
        this.queued = undefined;
        return this.start(queued.paths);
      });
    this.queued = queued;
    return queued.promise;
  }

  private start(paths: Set<string> | undefined): Promise<SyncReport> {
    // The whole round holds the folder: a `cloudbridge sync` run by hand beside the daemon waits for it, or it for that.
    const run = this.repo.lock
      .hold(() => this.round(paths))
      .finally(() => {
        if (this.running === run) this.running = undefined;
      });
    this.running = run;
    return run;
  }

  private async mergeWithBase(ours: string, theirs: string): Promise<MergeOutcome> {
    const base = await this.repo.git.mergeBase(ours, theirs);
    const outcome = await mergeCommits(this.repo.git, { base, ours, theirs }, { scratchDir: this.repo.stateDir });
    this.variants.push(...outcome.variants);
    if (outcome.variants.length > 0) this.log("merge.variants", { variants: outcome.variants });
    return outcome;
  }

  private variants: MergeOutcome["variants"] = [];
  private readonly reportedUnwritable = new Set<string>();
  private localOnly = false;
  private onScanProgress: ((seen: number) => void) | undefined;

  private async round(paths: Set<string> | undefined): Promise<SyncReport> {
    this.variants = [];
    const report: SyncReport = {
      merged: false,
      variants: this.variants,
      written: 0,
      deleted: 0,
      refused: [],
      unwritable: [],
      notUploaded: [],
      pending: false,
      scanned: 0,
      hashed: 0,
    };
    const { commit, scan } = await this.repo.commitChanges({
      ...(paths ? { paths } : {}),
      ...(this.options.annex ? { annex: this.options.annex } : {}),
    });
    report.notUploaded = scan.refused;
    report.scanned = scan.seen;
    report.hashed = scan.hashed;
    for (const refused of scan.refused) {
      this.log("refused.local", {
        path: refused.path,
        reason: refused.reason,
        message: `did not upload ${JSON.stringify(refused.path)}: ${refused.reason}; it stays on this machine only`,
      });
    }
    if (commit) {
      report.committed = commit;
      this.log("commit", { commit, changes: scan.changes.size });
    }

    if (!commit && this.localOnly) {
      report.head = this.repo.cache.commit;
      return report;
    }

    const remote = await this.remote.fetch();
    const remoteHead = remote.get(MAIN_REF);
    const before = this.repo.cache.commit;
    if (remoteHead) await this.integrate(remoteHead, report);
    // Paths a read-only folder kept from being written: try again (a remount, a chmod). A checkout just
    // made has tried them already.
    if (before && before === this.repo.cache.commit && this.repo.hasUnwritten()) await this.moveTo(before, report);
    const side = this.options.side;
    let sideHead = side ? await side.head() : undefined;
    const remoteSide = side ? remote.get(side.ref) : undefined;
    if (side && remoteSide && remoteSide !== sideHead) {
      const merged = sideHead ? await side.merge(sideHead, remoteSide) : remoteSide;
      if (merged !== sideHead && (await side.advance(merged, sideHead))) sideHead = merged;
    }

    if (!paths) await this.options.content?.reconcile(this.repo);

    const local = this.repo.cache.commit;
    const updates: RefPush[] = [];
    if (local && local !== remoteHead) {
      await this.options.content?.beforePush(local);
      if (side) sideHead = await side.head(); // uploads record where content now is
      updates.push({ ref: MAIN_REF, oid: local, merge: this.merge });
    }
    if (side && sideHead && sideHead !== remoteSide) updates.push({ ref: side.ref, oid: sideHead, merge: (o, t) => side.merge(o, t) });
    if (updates.length > 0) {
      const landed = await this.remote.push(updates);
      const pushed = landed.get(MAIN_REF);
      if (pushed && pushed !== local) {
        report.merged = true;
        await this.moveTo(pushed, report);
      }
      const pushedSide = side ? landed.get(side.ref) : undefined;
      if (side && pushedSide && pushedSide !== sideHead) await side.advance(pushedSide, sideHead);
      this.log("push", { commit: pushed ?? local, refs: updates.map((u) => u.ref) });
    }
    report.head = this.repo.cache.commit;
    return report;
  }

  private async integrate(remoteHead: string, report: SyncReport): Promise<void> {
    const local = this.repo.cache.commit;
    if (local === remoteHead) return;
    let target = remoteHead;
    if (local) {
      if (await this.repo.git.isAncestor(remoteHead, local)) return;
      if (!(await this.repo.git.isAncestor(local, remoteHead))) {
        target = (await this.mergeWithBase(local, remoteHead)).commit;
        report.merged = true;
      }
    }
    await this.moveTo(target, report);
  }

  private async moveTo(target: string, report: SyncReport): Promise<void> {
    const result = await this.repo.checkout(target, {
      ...(this.options.annex ? { annex: this.options.annex } : {}),
      ...(this.options.platform ? { platform: this.options.platform } : {}),
    });
    report.written += result.written;
    report.deleted += result.deleted;
    report.refused.push(...result.refused);
    for (const u of result.unwritable) if (!report.unwritable.some((r) => r.path === u.path)) report.unwritable.push(u);
    if (result.skipped.length > 0) report.pending = true;
    for (const refused of result.refused) {
      this.log("refused", {
        path: refused.path,
        reason: refused.reason,
        message: `refused ${JSON.stringify(refused.path)} from the remote: ${refused.reason}; it was not written`,
      });
    }
    const stillUnwritable = new Set(result.unwritable.map((u) => u.path));
    for (const path of this.reportedUnwritable) if (!stillUnwritable.has(path)) this.reportedUnwritable.delete(path);
    for (const { path, reason } of result.unwritable) {
      if (this.reportedUnwritable.has(path)) continue; // said once; tried again quietly each round
      this.reportedUnwritable.add(path);
      this.log("unwritable", { path, reason, message: `could not write ${JSON.stringify(path)} here: ${reason}; everything else syncs` });
    }
    if (result.missingContent.length > 0) await this.options.content?.afterCheckout(result.missingContent);
  }

  private log(event: string, fields: Record<string, unknown> = {}): void {
    this.options.log?.(event, fields);
  }
}
