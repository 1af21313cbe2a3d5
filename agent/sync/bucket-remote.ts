import { fetchRefs, GitStoreError, push, readRefsIndex, type RefsIndex, type RepoContext } from "../../gitstore/index.ts";
import { runGit } from "../../localgit/index.ts";
import type { RefPush, SyncRemote } from "./remote.ts";

/**
 * The sync engine's remote over git-in-the-bucket (gitstore/): fetch brings every shared ref's objects
 * (verified) into the local repository; push uploads one pack, writes this agent's synced refs, then
 * compare-and-swaps each shared ref, calling the engine's merge when another agent got there first.
 */
export class BucketRemote implements SyncRemote {
  readonly ctx: RepoContext;
  readonly agent: string;
  private readonly warn: (message: string) => void;
  private readonly landedWithWarning: (message: string) => void;
  /** Skipped refs and lines already reported (each message names its ref or line), so each is reported once, not every round. */
  private readonly reported = new Set<string>();

  private readonly refs: readonly string[];
  /** A fetch brought packs since the last upkeep. */
  private packsArrived = false;

  constructor(
    ctx: RepoContext,
    agent: string,
    options: {
      refs: readonly string[];
      warn?: (message: string) => void;
      /** Told of a push that landed whose local follow-up failed (see push). */
      landedWithWarning?: (message: string) => void;
    },
  ) {
    this.ctx = ctx;
    this.agent = agent;
    this.refs = options.refs;
    this.warn = options.warn ?? (() => undefined);
    this.landedWithWarning = options.landedWithWarning ?? (() => undefined);
  }

  /**
   * The refs index's conditional GET, started as the round begins (its answer is a few milliseconds of
   * waiting on the bucket that the scan and the commit fill): a read a moment early is as safe as one
   * after the commit, since every push is a conditional write on the index this machine read.
   */
  lookAhead(): () => Promise<Map<string, string>> {
    const index = readRefsIndex(this.ctx);
    index.catch(() => {}); // awaited by the fetch, or dropped with a round that failed before it
    return () => this.fetchFrom(index);
  }

  fetch(): Promise<Map<string, string>> {
    return this.fetchFrom(undefined);
  }

  /** The fetch, from the refs index read early (lookAhead) or, without one, read now. */
  private async fetchFrom(index: Promise<RefsIndex> | undefined): Promise<Map<string, string>> {
    // Only the refs the engine syncs must be usable; trouble in any other ref is reported, never fatal.
    const result = await fetchRefs({ ...this.ctx, remote: "cloud", required: this.refs, ...(index ? { index } : {}) });
    for (const error of [...result.refs.corrupt.values(), ...result.refs.unreadable]) {
      if (this.reported.has(error.message)) continue;
      this.reported.add(error.message);
      this.warn(error.message);
    }
    if (result.packsDownloaded > 0) this.packsArrived = true;
    return new Map([...result.refs.shared.values()].map((r) => [r.ref, r.oid]));
  }

  /**
   * The refs index, written, holds the push (its commit point). What follows it — this machine's note of the
   * index and of the pack, the bucket's packed-refs and HEAD for copies on disk — is taken apart (push's
   * `localAfter`, as the remote helper does): its failure is said as a warning on a push that landed, never
   * as a failed push, which would have the round fail and a person push again what the bucket holds. The note
   * is made again by the next round's fetch, which reads the index from the bucket.
   */
  async push(updates: RefPush[]): Promise<Map<string, string>> {
    const after: Array<Promise<void>> = [];
    const outcome = await push({
      ...this.ctx,
      agent: this.agent,
      remote: "cloud",
      localAfter: (pending) => after.push(pending),
      updates: updates.map((u) => ({
        ref: u.ref,
        oid: u.oid,
        onConflict: (ours: string, theirs: string) => u.merge(ours, theirs),
        ...(u.contains ? { contains: u.contains } : {}),
      })),
    });
    for (const failed of await Promise.allSettled(after))
      if (failed.status === "rejected") {
        const reason = failed.reason instanceof Error ? failed.reason.message : String(failed.reason);
        const serverInfo = failed.reason instanceof GitStoreError && failed.reason.code === "server-info-failed";
        this.landedWithWarning(
          `the push landed in the bucket; ${serverInfo ? "" : "noting it on this machine failed (the next round reads the bucket again, nothing is lost): "}${reason}`,
        );
      }
    const landed = new Map<string, string>();
    for (const result of outcome.results) {
      if (result.status === "rejected") throw new Error(`the bucket refused ${result.ref}: ${result.reason ?? "rejected"}`);
      if (result.oid) landed.set(result.ref, result.oid);
    }
    return landed;
  }

  async afterRound(): Promise<void> {
    if (!this.packsArrived) return;
    this.packsArrived = false;
    await this.keepPacked();
  }

  /**
   * git's own housekeeping after a round whose fetch brought packs (at its end, not inside the fetch: the
   * files the fetch brought are written first; `gc --auto`: nothing unless there are more packs or loose
   * objects than its thresholds), so a repository that fetched a pack per change does not keep a thousand
   * packs that slow every git command. Run to its end inside the round, not detached as git would: a
   * repack left running after the daemon stops deletes packs under whatever reads the repository next
   * (`git fsck` then reports "index not opened"). Not after each push: an import of 100,000 files would
   * start repacking them all at once; the loose objects of local commits are packed at the next fetch
   * that brings something.
   */
  private async keepPacked(): Promise<void> {
    await runGit(["-c", "gc.autoDetach=false", "gc", "--auto", "--quiet"], { gitDir: this.ctx.gitDir });
  }
}
