import type { AnnexPort } from "./annex-port.ts";
import type { CheckoutResult } from "./checkout.ts";
import { MAIN_REF, type LocalRepo } from "./local-repo.ts";
import { mergeCommits, type MergeOutcome } from "./merge.ts";
import type { RefPush, SyncRemote } from "./remote.ts";
import type { Platform } from "./safe-paths.ts";
import { mergeScanned, readRecord, writeRecord, type RefusedPath } from "./refused-paths.ts";
import type { ScanResult, SettleOptions } from "./scanner.ts";

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
  /** After a commit: pointer files among the changes (moved or copied here) get their content, as after a checkout. */
  afterCommit(root: string, changes: ScanResult["changes"]): Promise<void>;
  /**
   * On full rounds: queue what the folder still lacks, whatever happened before (a daemon killed between
   * writing a pointer file and queueing its download must not leave the pointer there for good).
   */
  reconcile(repo: LocalRepo): Promise<void>;
  /** Downloads the queued content the folder wants and puts it in place; returns how many downloads are still waiting. */
  download(): Promise<number>;
  /** Uploads queued and not yet done (a failed upload waits for the next round). */
  uploadsWaiting(): Promise<number>;
  /**
   * Transfers still queued whose last attempt failed, with why: a download's content damaged or gone in the
   * cloud, an upload the bucket refused, the network…
   */
  transfersFailed(direction: "up" | "down"): Promise<Array<{ path: string; reason: string }>>;
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
  /** Files committed here and sent (changed, added or removed) this round. */
  sent: number;
  /** A few of the paths behind `sent` and behind `written` + `deleted` (what a log line names). */
  examples: { sent: string[]; received: string[] };
  /** Paths of the shared history refused here (never written): every one still refused, at every round. */
  refused: CheckoutResult["refused"];
  /**
   * Local paths refused (unreadable, a name no other machine can hold, a symlink leading outside, a `.git`
   * below the top): not committed, not uploaded. Every one still there, at every round.
   */
  notUploaded: ScanResult["refused"];
  /** Files still being written, committed once they settle (the daemon's rounds only). */
  settling: ScanResult["settling"];
  /** Paths this machine could not write (read-only): skipped, everything else synced, tried again each round. */
  unwritable: CheckoutResult["unwritable"];
  /** Local files changed during the round: another round is due. */
  pending: boolean;
  scanned: number;
  hashed: number;
}

/** A complete sync (`syncOnce`): its rounds' report, and the transfers still waiting after it. */
export interface SyncOnceReport extends SyncReport {
  downloadsPending: number;
  uploadsPending: number;
  /**
   * Annexed files whose content this sync could not download (damaged or gone in the cloud, the network…):
   * each stays a pointer file here, its download queued and tried again by the next sync or the daemon.
   */
  notDownloaded: Array<{ path: string; reason: string }>;
  /**
   * Annexed files whose content this sync could not upload (the network, the bucket refusing it…): the
   * commit naming them was pushed, so the other machines see each file but cannot get its content until an
   * upload, retried by the next sync or the daemon, succeeds.
   */
  contentNotUploaded: Array<{ path: string; reason: string }>;
}

export interface RoundOptions {
  /** A round that finds nothing to commit does not talk to the remote (the watcher's echo of our own writes). */
  localOnly?: boolean;
  /** Called as the scan of the folder goes (files looked at so far). */
  onScanProgress?: (seen: number) => void;
  /** Commit a changed file only once it is finished (see SettleOptions in scanner.ts): the daemon. */
  settle?: Omit<SettleOptions, "waitingSince">;
}

/** What one round works with: its request and what it found so far. Nothing of it outlives the round. */
interface Round {
  readonly paths: Set<string> | undefined;
  readonly localOnly: boolean;
  readonly onScanProgress: ((seen: number) => void) | undefined;
  readonly settle: RoundOptions["settle"];
  readonly report: SyncReport;
  /** Where the round's time goes (SyncEngineOptions.trace). */
  readonly trace: (step: string, fields?: Record<string, unknown>) => void;
}

/** A round asked for while one runs: requests made meanwhile are merged into it. */
interface QueuedRound {
  promise: Promise<SyncReport>;
  paths: Set<string> | undefined;
  localOnly: boolean;
  onScanProgress: ((seen: number) => void) | undefined;
  settle: RoundOptions["settle"];
  /**
   * A request with local paths joined it while the running round worked on the folder: they are committed
   * as soon as that round waits on the bucket (commitMeanwhile), not after its wait.
   */
  beforeWait: boolean;
}

export interface SyncEngineOptions {
  annex?: AnnexPort;
  content?: ContentSync;
  side?: SideBranch;
  platform?: Platform;
  log?: (event: string, fields?: Record<string, unknown>) => void;
  /**
   * Told as a round passes each of its steps, with the milliseconds since the round started (the daemon
   * logs it at debug level: where one change's time goes). Off unless given.
   */
  trace?: (step: string, fields: { ms: number } & Record<string, unknown>) => void;
}

export class SyncEngine {
  readonly repo: LocalRepo;
  readonly remote: SyncRemote;
  private readonly options: SyncEngineOptions;
  /** The round running now, or work run between rounds (`between`). */
  private running: Promise<unknown> | undefined;
  private queued: QueuedRound | undefined;

  constructor(repo: LocalRepo, remote: SyncRemote, options: SyncEngineOptions = {}) {
    this.repo = repo;
    this.remote = remote;
    this.options = options;
  }

  /**
   * A round over these paths (watcher events) or the whole folder (undefined). With `localOnly`, a round
   * that finds nothing to commit does not talk to the remote. A round asked for while one runs is queued;
   * later requests join the queued one (their paths added; local-only only if every request was).
   */
  sync(paths?: Iterable<string>, options: RoundOptions = {}): Promise<SyncReport> {
    const localOnly = options.localOnly === true;
    const asked = paths ? new Set(paths) : undefined;
    if (!this.running) return this.start(asked, localOnly, options.onScanProgress, options.settle);
    let queued = this.queued;
    if (queued) {
      if (!asked) queued.paths = undefined;
      else if (queued.paths) for (const p of asked) queued.paths.add(p);
      queued.localOnly &&= localOnly;
      queued.onScanProgress ??= options.onScanProgress;
      queued.settle ??= options.settle;
    } else {
      const next: QueuedRound = (queued = {
        promise: undefined as never,
        paths: asked,
        localOnly,
        onScanProgress: options.onScanProgress,
        settle: options.settle,
        beforeWait: false,
      });
      next.promise = this.running
        .catch(() => undefined)
        .then(async () => {
          // Work run `between` rounds may have taken the turn meanwhile: this round waits for it.
          while (this.running) await this.running.catch(() => undefined);
          this.queued = undefined;
          return this.start(next.paths, next.localOnly, next.onScanProgress, next.settle);
        });
      this.queued = next;
    }
    // A person's edits are committed now if the running round is only waiting on the bucket: a slow or
    // silent network (a request given up only after the SDK's idle timeouts and retries, minutes) must not
    // keep them out of the history meanwhile (a version overwritten before its commit would be lost). Those
    // the watcher named, and those a scan of the whole folder finds (its watcher failed, the reconcile).
    // Asked while the round still works on the folder, they are committed once it begins to wait.
    if (asked?.size !== 0) {
      if (this.waiting) this.commitMeanwhile(asked, options.settle);
      else queued.beforeWait = true;
    }
    return queued.promise;
  }

  /**
   * Set while the running round waits on the bucket (its fetch, its uploads, its push), when commits may be
   * made beside it: those steps touch neither the folder, nor git's index, nor main.
   */
  private waiting = false;
  /** Commits made while the running round waited: the round takes its turn back once they are done. */
  private meanwhile: Promise<void> = Promise.resolve();
  /** What commits made meanwhile sent, told (and published) by the next round. */
  private sentMeanwhile: { commit: string; paths: string[] } | undefined;

  /**
   * Commits what changed in `paths` (undefined: anywhere in the folder) beside the running round, which is
   * waiting on the bucket (`waiting`). The round queued for these paths publishes it; a scan failing here is
   * met again by that round.
   */
  private commitMeanwhile(paths: Set<string> | undefined, settle: RoundOptions["settle"]): void {
    this.meanwhile = this.meanwhile.then(async () => {
      if (!this.waiting) return; // the round has its turn back: the queued round commits them
      try {
        const { commit, scan } = await this.repo.commitChanges({
          ...(paths ? { paths } : {}),
          ...(this.options.annex ? { annex: this.options.annex } : {}),
          ...(settle ? { settle: { ...settle, waitingSince: this.waitingToSettle } } : {}),
        });
        if (!commit) return;
        this.log("commit", { commit, changes: scan.changes.size, whileWaiting: true });
        const sent = this.sentMeanwhile?.paths ?? [];
        this.sentMeanwhile = { commit, paths: [...sent, ...scan.changes.keys()] };
        if (this.queued) this.queued.localOnly = false;
        await this.options.content?.afterCommit(this.repo.root, scan.changes);
      } catch (error) {
        this.log("commit.deferred", { message: (error as Error).message });
      }
    });
  }

  /** Runs `work`, a wait on the bucket, letting local edits be committed meanwhile (commitMeanwhile). */
  private async whileWaiting<T>(work: () => Promise<T>): Promise<T> {
    this.waiting = true;
    const queued = this.queued;
    if (queued?.beforeWait) {
      queued.beforeWait = false;
      this.commitMeanwhile(queued.paths, queued.settle);
    }
    try {
      return await work();
    } finally {
      this.waiting = false;
      await this.meanwhile;
    }
  }

  /**
   * Runs `work` between rounds, holding the folder as a round does: after the round running now (and any
   * queued before this call), and before any asked meanwhile, which wait for it. The daemon pushes for
   * the remote helper this way, so that a `git push` and the daemon's own push of the same repository take
   * turns instead of racing for the refs.
   */
  async between<T>(work: () => Promise<T>): Promise<T> {
    while (this.running) await this.running.catch(() => undefined);
    const run = this.repo.lock.hold(work).finally(() => {
      if (this.running === run) this.running = undefined;
    });
    this.running = run;
    return run;
  }

  /** Whether the running round is waiting on the bucket now (its fetch, uploads or push), not working on the folder. */
  get waitingOnBucket(): boolean {
    return this.waiting;
  }

  /** Resolves when the round running now (if any) has finished, however it ended. */
  async roundDone(): Promise<void> {
    await this.running?.catch(() => undefined);
  }

  /**
   * A complete sync, as `cloudbridge sync` (and init, clone) runs it: a round over the whole folder, the
   * downloads the preferred-content rule wants, then the follow-up round the first one calls for.
   */
  async syncOnce(options: Pick<RoundOptions, "onScanProgress"> = {}): Promise<SyncOnceReport> {
    const first = await this.sync(undefined, options);
    const { pending: downloadsPending, moved } = await this.fetchContent();
    // Read now: every queued download was just tried, so what failed is this sync's own failure.
    const notDownloaded = (await this.options.content?.transfersFailed("down")) ?? [];
    let report = first;
    const again = this.followUp({ pending: first.pending, contentArrived: moved });
    if (again) report = combineRounds(first, await this.sync(again === "full" ? undefined : []));
    const content = this.options.content;
    return {
      ...report,
      downloadsPending,
      uploadsPending: (await content?.uploadsWaiting()) ?? 0,
      notDownloaded,
      contentNotUploaded: (await content?.transfersFailed("up")) ?? [],
    };
  }

  /**
   * The round a finished round calls for: a full one when local files changed during it (`pending`), a
   * publishing one (fetch and push, no scan) when content arrived since and the git-annex branch moved
   * to record it, none otherwise.
   */
  followUp(after: { pending: boolean; contentArrived: boolean }): "full" | "publish" | undefined {
    if (after.pending) return "full";
    return after.contentArrived ? "publish" : undefined;
  }

  /**
   * Downloads the content the folder wants (beside the rounds, in the daemon); `moved` says whether that
   * changed the side branch (where content is), which a publishing round then pushes.
   */
  async fetchContent(): Promise<{ pending: number; moved: boolean }> {
    const content = this.options.content;
    if (!content) return { pending: 0, moved: false };
    const side = this.options.side;
    const before = await side?.head();
    const pending = await content.download();
    return { pending, moved: side !== undefined && (await side.head()) !== before };
  }

  private start(
    paths: Set<string> | undefined,
    localOnly: boolean,
    onScanProgress: ((seen: number) => void) | undefined,
    settle: RoundOptions["settle"],
  ): Promise<SyncReport> {
    const round: Round = {
      paths,
      localOnly,
      onScanProgress,
      settle,
      report: emptyReport(),
      trace: this.tracer(),
    };
    // The whole round holds the folder: a `cloudbridge sync` run by hand beside the daemon waits for it, or it for that.
    const run = this.repo.lock
      .hold(() => this.round(round))
      .finally(() => {
        round.trace("released");
        if (this.running === run) this.running = undefined;
      });
    this.running = run;
    return run;
  }

  /**
   * A clone's first step: the folder (which has no commit yet) takes `target` before anything in it is
   * committed. Files already there are kept and looked at again by the next round.
   */
  async takeRemote(target: string): Promise<SyncReport> {
    if (this.running) await this.running.catch(() => undefined);
    const report = emptyReport();
    await this.moveTo(target, report);
    await this.account(
      report,
      (await readRecord(this.repo.stateDir)).paths.filter((p) => p.kind === "refused-from-bucket"),
    );
    report.head = this.repo.cache.commit;
    return report;
  }

  /** Merges two commits against their base (both sides' changes kept); variants it made go to the round's report. */
  private async mergeWithBase(ours: string, theirs: string, report: SyncReport, knownBase?: string): Promise<MergeOutcome> {
    const base = knownBase ?? (await this.repo.git.mergeBase(ours, theirs));
    const outcome = await mergeCommits(this.repo.git, { base, ours, theirs }, { scratchDir: this.repo.stateDir });
    report.variants.push(...outcome.variants);
    if (outcome.variants.length > 0) this.log("merge.variants", { variants: outcome.variants });
    return outcome;
  }

  private readonly reportedUnwritable = new Set<string>();
  /** Files found still being written: path → when first found so (kept between rounds, this process only). */
  private readonly waitingToSettle = new Map<string, number>();

  private async round(round: Round): Promise<SyncReport> {
    const { paths, report, trace } = round;
    trace("locked");
    // The bucket's refs are asked for now, answered while the scan and the commit run (not for a round that stays local).
    const fetchAhead = round.localOnly ? undefined : this.remote.lookAhead?.();
    const { commit, scan, looked } = await this.repo.commitChanges({
      ...(paths ? { paths } : {}),
      ...(this.options.annex ? { annex: this.options.annex } : {}),
      ...(round.onScanProgress ? { onProgress: round.onScanProgress } : {}),
      ...(round.settle ? { settle: { ...round.settle, waitingSince: this.waitingToSettle } } : {}),
    });
    const accounted = await readRecord(this.repo.stateDir);
    /** What the last round recorded, of one kind (refused-paths.ts). */
    const recorded = (kind: RefusedPath["kind"]) => accounted.paths.filter((p) => p.kind === kind);
    // What the scan did not look at (git's index vouched for it) keeps what was said of it.
    report.notUploaded = mergeScanned(recorded("not-uploaded"), paths ?? looked, scan.refused);
    report.scanned = scan.seen;
    report.hashed = scan.hashed;
    report.settling = scan.settling;
    trace("scanned", { paths: paths?.size ?? "all", changes: scan.changes.size, committed: commit !== undefined });
    if (commit) {
      report.committed = commit;
      report.sent = scan.changes.size;
      report.examples.sent = [...scan.changes.keys()].slice(0, EXAMPLES);
      this.log("commit", { commit, changes: scan.changes.size });
      await this.options.content?.afterCommit(this.repo.root, scan.changes);
    }
    // Committed while the last round waited on the bucket: this round says it and publishes it.
    const meanwhile = this.sentMeanwhile;
    this.sentMeanwhile = undefined;
    if (meanwhile) {
      report.committed ??= meanwhile.commit;
      report.sent += meanwhile.paths.length;
      report.examples.sent = [...meanwhile.paths, ...report.examples.sent].slice(0, EXAMPLES);
    }

    if (!commit && !meanwhile && round.localOnly) {
      // What this scan met is said now; the rest was said by the last round that talked to the bucket.
      this.logRefused(scan.refused, []);
      report.unwritable = recorded("not-written");
      await this.account(report, recorded("refused-from-bucket"));
      report.head = this.repo.cache.commit;
      return report;
    }
    const carried = recorded("refused-from-bucket");

    const remote = await this.whileWaiting(() => (fetchAhead ? fetchAhead() : this.remote.fetch()));
    trace("fetched");
    const remoteHead = remote.get(MAIN_REF);
    const before = this.repo.cache.commit;
    if (remoteHead) await this.integrate(remoteHead, report);
    trace("integrated", { written: report.written, deleted: report.deleted });
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
    trace("side-merged");

    const local = this.repo.cache.commit;
    const updates: RefPush[] = [];
    if (local) {
      // Also when the commit is already in the bucket: content whose upload failed in an earlier round goes now.
      const content = this.options.content;
      if (content) await this.whileWaiting(() => content.beforePush(local));
      if (side) sideHead = await side.head(); // uploads record where content now is
    }
    if (local && local !== remoteHead)
      updates.push({
        ref: MAIN_REF,
        oid: local,
        merge: async (ours, theirs) => (await this.mergeWithBase(ours, theirs, report)).commit,
        // The folder took the fetched head in (integrate): the push from it is a fast-forward unless it moved since.
        ...(remoteHead ? { contains: remoteHead } : {}),
      });
    if (side && sideHead && sideHead !== remoteSide) updates.push({ ref: side.ref, oid: sideHead, merge: (o, t) => side.merge(o, t) });
    trace("content-sent");
    if (updates.length > 0) {
      const landed = await this.whileWaiting(() => this.remote.push(updates));
      trace("pushed", { refs: updates.length });
      const pushed = landed.get(MAIN_REF);
      if (pushed && pushed !== local) {
        report.merged = true;
        // A commit made while the push waited (commitMeanwhile) is kept: the pushed merge is merged into it.
        if (this.repo.cache.commit === local) await this.moveTo(pushed, report);
        else await this.integrate(pushed, report);
      }
      const pushedSide = side ? landed.get(side.ref) : undefined;
      if (side && pushedSide && pushedSide !== sideHead) await side.advance(pushedSide, sideHead);
      this.log("push", { commit: pushed ?? local, refs: updates.map((u) => u.ref) });
    }
    await this.account(report, carried);
    this.logRefused(report.notUploaded, report.refused);
    report.head = this.repo.cache.commit;
    // Upkeep last: the files are in place and the push is out by now.
    await this.remote.afterRound?.();
    return report;
  }

  /**
   * Settles the round's lists of what is not synced and records them for `status`: what this round's
   * checkouts refused, and what earlier rounds refused that is still a ghost (in the tree, never on disk); a
   * path this machine also has as a local file it cannot upload is listed once, as that.
   */
  private async account(report: SyncReport, carried: ReadonlyArray<{ path: string; reason: string }>): Promise<void> {
    const local = new Set(report.notUploaded.map((p) => p.path));
    const refused = new Map(report.refused.map((r) => [r.path, r.reason]));
    for (const { path, reason } of carried)
      if (this.repo.cache.entries.get(path)?.ghost === true && !refused.has(path)) refused.set(path, reason);
    report.refused = [...refused].filter(([path]) => !local.has(path)).map(([path, reason]) => ({ path, reason }));
    const paths: RefusedPath[] = [
      ...report.notUploaded.map((p) => ({ ...p, kind: "not-uploaded" as const })),
      ...report.refused.map((p) => ({ ...p, kind: "refused-from-bucket" as const })),
      ...report.unwritable.map((p) => ({ ...p, kind: "not-written" as const })),
    ];
    const previous = await readRecord(this.repo.stateDir);
    if (JSON.stringify(previous.paths) !== JSON.stringify(paths) || previous.updatedAt === undefined)
      await writeRecord(this.repo.stateDir, paths);
  }

  /** Every path not synced is said at every round, until it is fixed. */
  private logRefused(notUploaded: SyncReport["notUploaded"], refused: SyncReport["refused"]): void {
    for (const { path, reason } of notUploaded)
      this.log("refused.local", {
        path,
        reason,
        message: `did not upload ${JSON.stringify(path)}: ${reason}; it stays on this machine only`,
      });
    for (const { path, reason } of refused)
      this.log("refused", { path, reason, message: `refused ${JSON.stringify(path)} from the remote: ${reason}; it was not written` });
  }

  private async integrate(remoteHead: string, report: SyncReport): Promise<void> {
    const local = this.repo.cache.commit;
    if (local === remoteHead) return;
    let target = remoteHead;
    if (local) {
      // One git process says which way they stand: the base is the remote's head (nothing new there), ours
      // (a fast-forward), or neither (a merge, against that base).
      // The usual change from another machine is one commit on top of ours, and the usual local change one
      // commit on top of theirs: the commit's own parent line says so.
      const base = (await this.repo.isParentOf(local, remoteHead))
        ? local
        : (await this.repo.isParentOf(remoteHead, local))
          ? remoteHead
          : await this.repo.git.mergeBase(local, remoteHead);
      if (base === remoteHead) return;
      if (base !== local) {
        target = (await this.mergeWithBase(local, remoteHead, report, base)).commit;
        report.merged = true;
      }
    }
    await this.moveTo(target, report);
  }

  private async moveTo(target: string, report: SyncReport): Promise<void> {
    // A bulk change from another machine says how far it is, every few seconds.
    let said = Date.now();
    const result = await this.repo.checkout(target, {
      ...(this.options.annex ? { annex: this.options.annex } : {}),
      ...(this.options.platform ? { platform: this.options.platform } : {}),
      onProgress: (done, total) => {
        if (Date.now() - said < PROGRESS_EVERY_MS || done === total) return;
        said = Date.now();
        this.log("sync.progress", { done, total, message: `updating files from the other machines: ${done} of ${total}` });
      },
    });
    report.written += result.written;
    report.deleted += result.deleted;
    report.examples.received.push(...result.changed.slice(0, EXAMPLES - report.examples.received.length));
    report.refused.push(...result.refused);
    for (const u of result.unwritable) if (!report.unwritable.some((r) => r.path === u.path)) report.unwritable.push(u);
    if (result.skipped.length > 0) report.pending = true;
    const stillUnwritable = new Set(result.unwritable.map((u) => u.path));
    for (const path of this.reportedUnwritable) if (!stillUnwritable.has(path)) this.reportedUnwritable.delete(path);
    for (const { path, reason } of result.unwritable) {
      if (this.reportedUnwritable.has(path)) continue; // said once; tried again quietly each round
      this.reportedUnwritable.add(path);
      this.log("unwritable", { path, reason, message: `could not write ${JSON.stringify(path)} here: ${reason}; everything else syncs` });
    }
    if (result.missingContent.length > 0) await this.options.content?.afterCheckout(result.missingContent);
  }

  /** A round's step reporter: nothing at all when no trace was asked for. */
  private tracer(): (step: string, fields?: Record<string, unknown>) => void {
    const trace = this.options.trace;
    if (!trace) return () => undefined;
    const start = performance.now();
    return (step, fields = {}) => trace(step, { ms: Math.round(performance.now() - start), ...fields });
  }

  private log(event: string, fields: Record<string, unknown> = {}): void {
    this.options.log?.(event, fields);
  }
}

/** How many paths a report names (log lines say "and N more"). */
const EXAMPLES = 5;
const PROGRESS_EVERY_MS = 5000;

/** What two rounds run one after the other did, as one report (a sync and the follow-up it called for). */
export function combineRounds(first: SyncReport, second: SyncReport): SyncReport {
  return {
    ...second,
    committed: second.committed ?? first.committed,
    merged: first.merged || second.merged,
    variants: [...first.variants, ...second.variants],
    written: first.written + second.written,
    deleted: first.deleted + second.deleted,
    sent: first.sent + second.sent,
    examples: {
      sent: [...first.examples.sent, ...second.examples.sent].slice(0, EXAMPLES),
      received: [...first.examples.received, ...second.examples.received].slice(0, EXAMPLES),
    },
    // Each round lists every path still refused: the later round's lists are the whole story.
    refused: second.refused,
    notUploaded: second.notUploaded,
    unwritable: second.unwritable,
    scanned: first.scanned,
    hashed: first.hashed + second.hashed,
  };
}

/** A round's report before anything happened (also what a daemon says when there was nothing to do). */
export function emptyReport(): SyncReport {
  return {
    merged: false,
    variants: [],
    written: 0,
    deleted: 0,
    sent: 0,
    examples: { sent: [], received: [] },
    refused: [],
    unwritable: [],
    notUploaded: [],
    settling: [],
    pending: false,
    scanned: 0,
    hashed: 0,
  };
}
