import { createHash } from "node:crypto";
import { basename, join } from "node:path";
import type { Stats } from "node:fs";
import {
  formatPointer,
  goesToAnnex,
  isTransient,
  mayBePointerSize,
  parsePointer,
  placeContent,
  readLocations,
  readPointerFile,
  type Annex,
  type LargeFilesRule,
} from "../../annex/index.ts";
import type { AnnexPort } from "./annex-port.ts";
import type { CheckoutResult } from "./checkout.ts";
import type { ContentSync } from "./engine.ts";
import { objectSizes, readObjects } from "../../localgit/index.ts";
import { parseAnnexKey } from "../../protocol/index.ts";
import type { LocalRepo } from "./local-repo.ts";
import type { CacheEntry } from "./stat-cache.ts";
import type { Direction, RunningTransfer, TransferJob, TransferQueue } from "./transfer-queue.ts";

/**
 * Annexed content in the sync engine, over the annex layer (annex/): large files are ingested into
 * the local object store while scanning and queued for upload; uploads run before the push that
 * publishes the commit naming them (content first, then the location log, then the ref); downloads
 * follow the preferred-content rule (`cloudbridge.wanted`: everything, or nothing) and put the content
 * in place of the pointer file once it is verified. Every job lives in the durable transfer queue until
 * it succeeded.
 */
export interface AnnexContentOptions {
  largefiles: LargeFilesRule;
  wanted: "everything" | "nothing";
  /** Replaces a pointer file with its content, if the file is still that pointer. */
  place(path: string, key: string): Promise<void>;
  /** Told of failed transfers (`*.failed`) and, for tracing, of what else it did. */
  log?: (event: string, fields: Record<string, unknown>) => void;
  /** Told of each file's bytes as they move (the daemon's page shows them). */
  progress?: TransferProgress;
}

export interface TransferProgress {
  progress(direction: Direction, key: string, path: string | undefined, done: number, total: number): void;
  finished(direction: Direction, key: string): void;
}

export class AnnexContent implements AnnexPort, ContentSync {
  readonly annex: Annex;
  readonly queue: TransferQueue;
  /** Transfers in flight now, by direction and key (what `status` shows as running, with progress). */
  readonly running = new Map<string, RunningTransfer>();
  private readonly options: AnnexContentOptions;

  constructor(annex: Annex, queue: TransferQueue, options: AnnexContentOptions) {
    this.annex = annex;
    this.queue = queue;
    this.options = { ...options };
  }

  goesToAnnex(path: string, size: number, annexedAs?: string): boolean {
    return goesToAnnex(path, size, this.options.largefiles, annexedAs);
  }

  async ingest(absPath: string, path: string): Promise<string> {
    const key = await this.annex.local.ingest(absPath);
    // Content the location log already places in the cloud (a download put back in place) needs no upload.
    const inCloud = (await readLocations(this.annex.branch, key)).get(this.annex.cloudUuid)?.status === "1";
    if (!inCloud) {
      await this.queue.add([{ direction: "up", key, path }]);
      this.sendEarly(key, path);
    } else {
      // No upload will record it: the content being here is recorded now, as `git annex add` does.
      await this.annex.recordHere([key]);
    }
    return key;
  }

  /** Large content sent ahead of its round's push, by key (see sendEarly). */
  private readonly sending = new Map<string, Promise<unknown>>();

  /** Keys sent early and recorded (content here, and in the cloud): the round's upload has nothing left to do for them. */
  private readonly sentEarly = new Set<string>();

  /**
   * Large content starts for the cloud as soon as it is in the store, beside the rest of its round (the
   * commit, the fetch, a merge), instead of when the round reaches its push. The location log says the
   * content is here while it uploads, and in the cloud as soon as the upload completed, so the round's push
   * (which waits for this) has nothing left to send or record. No failure is said here: the round's upload
   * (beforePush) sends it again itself if this attempt failed.
   */
  private sendEarly(key: string, path: string): void {
    if (this.sending.has(key) || (parseAnnexKey(key).size ?? 0) < EARLY_SEND_BYTES) return;
    const progress = this.options.progress;
    const sent = (async () => {
      const here = this.annex.record([{ key, uuid: this.annex.uuid, present: true }], "add");
      here.catch(() => undefined); // awaited below
      await this.annex.send(key, {
        fileName: basename(path),
        onProgress: (done, total) => this.reportProgress("up", key, path, done, total),
      });
      await here;
      await this.annex.record([{ key, uuid: this.annex.cloudUuid, present: true }], "upload to cloud");
      this.sentEarly.add(key);
    })()
      .catch(() => undefined)
      .finally(() => {
        this.running.delete(`up ${key}`);
        progress?.finished("up", key);
      });
    this.sending.set(key, sent);
  }

  parsePointer(blob: Buffer): string | undefined {
    return parsePointer(blob);
  }

  formatPointer(key: string): string {
    return formatPointer(key);
  }

  materialize(key: string, path: string, mode: number): Promise<boolean> {
    return this.annex.local.copyTo(key, path, mode);
  }

  place(key: string, dest: string, mode: number): Promise<Stats | undefined> {
    return placeContent(this.annex.local, key, dest, mode);
  }

  /** Uploads every queued key (recording here and the cloud as holding it) before the push that names them. */
  async beforePush(): Promise<void> {
    // Never two uploads of one key at once: what was sent early finishes first (and is then found in the bucket).
    while (this.sending.size > 0) {
      const sending = [...this.sending.values()];
      this.sending.clear();
      await Promise.all(sending);
    }
    const jobs: TransferJob[] = [];
    for (const job of await this.queue.list("up")) {
      if (this.sentEarly.has(job.key)) await this.queue.done(job);
      else jobs.push(job);
    }
    this.sentEarly.clear();
    if (jobs.length === 0) return;
    const unique = dedupe(jobs);
    await this.annex.record(
      unique.map((job) => ({ key: job.key, uuid: this.annex.uuid, present: true })),
      "add",
    );
    const failures = new Failures();
    const results = await this.annex
      .upload(unique.map(transferOf), this.tracked("up", unique, failures))
      .catch(failures.add)
      .finally(() => this.forget("up"));
    for (const job of jobs) {
      if (results?.has(job.key)) await this.queue.done(job);
      else await this.keepWhyFailed(job, failures);
    }
    this.noteFailures("up", failures);
    const failure = failures.first;
    if (failure) {
      // The commit is pushed anyway: its pointers name content the cloud will have once the retry succeeds.
      this.options.log?.("upload.failed", { message: (failure as Error).message, queued: (await this.queue.list("up")).length });
    }
  }

  async afterCheckout(missing: CheckoutResult["missingContent"]): Promise<void> {
    if (this.options.wanted === "nothing" || missing.length === 0) return;
    const jobs: TransferJob[] = [];
    // Content a download finished while the folder was being updated is placed now: that download's job is
    // already done, and a new one would wait for the next change. Only once its location log says it is
    // here (a download records that just after the content arrives): a file in place is content on record.
    const logged = await this.annex.loggedHere(missing.map((m) => m.key));
    for (const { key, path } of missing) {
      if (logged.has(key) && (await this.annex.local.has(key))) await this.options.place(path, key);
      else jobs.push({ direction: "down", key, path });
    }
    await this.queue.add(jobs);
    if (jobs.length > 0) this.onDownloadsQueued?.();
  }

  /**
   * Pointer files committed as they are: a person moved, renamed or copied an annexed file whose content
   * had not arrived yet. Each gets its content as a pointer a checkout writes does (placed now if it is
   * here, else downloaded). Without this, content arriving between the move and its commit was put in place
   * at the old path (gone by then), its job was done, and the new path kept its pointer until a round over
   * the whole folder.
   */
  async afterCommit(root: string, changes: ReadonlyMap<string, CacheEntry | null>): Promise<void> {
    if (this.options.wanted === "nothing") return;
    const pointers: CheckoutResult["missingContent"] = [];
    for (const [path, entry] of changes) {
      // Only a small regular file can be a pointer; `annexed: false` is a file read and found not to be one.
      if (!entry || entry.annexed === false || (entry.mode !== "100644" && entry.mode !== "100755") || !mayBePointerSize(entry.size))
        continue;
      const key = await readPointerFile(join(root, path));
      if (key !== undefined) pointers.push({ path, key });
    }
    if (pointers.length > 0)
      this.options.log?.("content.pointers-committed", { paths: pointers.slice(0, 5).map((p) => p.path), count: pointers.length });
    await this.afterCheckout(pointers);
  }

  /**
   * Told when a checkout queued downloads: the daemon starts them then, beside the rest of the round (its
   * push), instead of after it, so a large file starts arriving as soon as its pointer is written.
   */
  onDownloadsQueued: (() => void) | undefined;

  /**
   * Every annexed file of the folder's commit whose content is not here and whose file on disk is still
   * the pointer gets a download job (when this machine wants content). Content that is here and that the
   * cloud should have but lacks — a machine wants it and does not have it, and the cloud lost it (a forced
   * `drop --from cloud`, a person in the console) — gets an upload job. The stat cache knows which blobs are
   * pointers; only blobs it does not know yet are looked at (their sizes, then the small ones read, in one
   * batch each), and what was learnt is kept.
   */
  async reconcile(repo: LocalRepo): Promise<void> {
    if (!repo.cache.commit) return;
    if ((await learnAnnexed(repo)) > 0) await repo.saveCache();
    const annexed: Array<{ path: string; key: string }> = [];
    // A path this machine could not write holds another version on disk; its checkout, retried each round, sees to it.
    for (const { path, key, entry } of repo.cache.entries.annexed()) if (!entry.ghost && !entry.unwritten) annexed.push({ path, key });
    if (annexed.length === 0) return;
    const queued = new Set((await this.queue.list("down")).map((job) => job.key));
    const jobs: TransferJob[] = [];
    const here = new Map<string, string>();
    const present: typeof annexed = [];
    for (const { path, key } of annexed) {
      if (await this.annex.local.has(key)) {
        here.set(key, path);
        present.push({ path, key });
      } else if (this.options.wanted !== "nothing" && !queued.has(key)) jobs.push({ direction: "down", key, path });
    }
    // Content a crash left in the store before its location log said so is recorded before it is shown.
    await this.annex.recordHere([...here.keys()]);
    if (this.options.wanted !== "nothing") for (const { path, key } of present) await repo.placeContent(path, key, this);
    for (const key of (await this.annex.wantersLacking([...here.keys()])).keys()) {
      const inCloud = (await readLocations(this.annex.branch, key)).get(this.annex.cloudUuid)?.status === "1";
      if (!inCloud) jobs.push({ direction: "up", key, path: here.get(key)! });
    }
    await this.queue.add(jobs);
  }

  async uploadsWaiting(): Promise<number> {
    return (await this.queue.list("up")).length;
  }

  /**
   * A job its batch did not finish keeps why (its own failure, or the batch's): `status`, and the one-shot
   * sync that ran it, say why a file has no content here or in the cloud.
   */
  private async keepWhyFailed(job: TransferJob, failures: Failures): Promise<void> {
    const failure = failures.of(job.key) ?? failures.first;
    if (failure !== undefined) await this.queue.fail(job, messageOf(failure));
  }

  async transfersFailed(direction: Direction): Promise<Array<{ path: string; reason: string }>> {
    const failed: Array<{ path: string; reason: string }> = [];
    for (const job of await this.queue.list(direction))
      if (job.failed !== undefined) failed.push({ path: job.path ?? job.key, reason: job.failed });
    return failed;
  }

  /** Downloads queued keys and puts them in place; returns how many are still waiting. */
  async download(): Promise<number> {
    const jobs = await this.queue.list("down");
    if (jobs.length === 0) return 0;
    const failures = new Failures();
    const unique = dedupe(jobs);
    const tracking = this.tracked("down", unique, failures);
    // Each file goes in place as soon as its content is verified and recorded in the location log (the
    // batch records each file as it arrives): the person sees the file without waiting for the others.
    const placing = new Map<string, Promise<void>>();
    const placeKey = async (key: string): Promise<void> => {
      for (const job of jobs) if (job.key === key && job.path) await this.options.place(job.path, key);
    };
    const results = await this.annex
      .get(unique.map(transferOf), {
        spare: true,
        ...tracking,
        onFileDone: (item, outcome) => {
          tracking.onFileDone(item, outcome);
          if (outcome.error === undefined) {
            const placed = placeKey(item.key);
            placed.catch(() => undefined); // awaited below, where a failure is thrown
            placing.set(item.key, placed);
          }
        },
      })
      .catch(failures.add)
      .finally(() => this.forget("down"));
    for (const job of jobs) {
      const done = results ? results.has(job.key) : await this.annex.local.has(job.key);
      if (!done) {
        await this.keepWhyFailed(job, failures);
        continue;
      }
      const placed = placing.get(job.key);
      if (placed) await placed;
      else if (job.path) await this.options.place(job.path, job.key);
      await this.queue.done(job);
    }
    for (const job of unique) await this.annex.local.dropSpare(job.key);
    const left = (await this.queue.list("down")).length;
    this.noteFailures("down", failures);
    if (failures.first) this.options.log?.("download.failed", { message: (failures.first as Error).message, queued: left });
    return left;
  }

  /**
   * Whether the transfers in `direction` since the last call failed for a reason that passes by itself (the
   * network, the cloud's 5xx, a full disk), so they are worth retrying soon rather than at the next change;
   * undefined when none ran.
   */
  takeRetry(direction: Direction): boolean | undefined {
    const due = this.retryDue.get(direction);
    this.retryDue.delete(direction);
    return due;
  }

  private readonly retryDue = new Map<Direction, boolean>();

  /** What the daemon downloads from now on (a person changed `cloudbridge.wanted` while it runs). */
  setWanted(wanted: AnnexContentOptions["wanted"]): void {
    this.options.wanted = wanted;
  }

  get wanted(): AnnexContentOptions["wanted"] {
    return this.options.wanted;
  }

  /**
   * Keeps `running` up to date and tells the progress watcher. What is shown only moves forward: a range
   * tried again takes back the bytes its failed attempt counted, and the figure waits until they are back.
   */
  private reportProgress(direction: Direction, key: string, path: string | undefined, done: number, total: number): void {
    const id = `${direction} ${key}`;
    const shown = Math.max(done, this.running.get(id)?.done ?? 0);
    this.running.set(id, { direction, key, ...(path ? { path } : {}), done: shown, total });
    this.options.progress?.progress(direction, key, path, shown, total);
  }

  /** Batch callbacks that keep `running` up to date, tell the progress watcher and collect each file's failure. */
  private tracked(direction: Direction, jobs: TransferJob[], failures: Failures) {
    const paths = new Map(jobs.map((job) => [job.key, job.path]));
    const progress = this.options.progress;
    return {
      onFileProgress: (item: { key: string }, done: number, total: number) =>
        this.reportProgress(direction, item.key, paths.get(item.key), done, total),
      onFileDone: (item: { key: string }, outcome: { error?: unknown }) => {
        this.running.delete(`${direction} ${item.key}`);
        progress?.finished(direction, item.key);
        failures.onFileDone(item, outcome);
      },
    };
  }

  private forget(direction: Direction): void {
    for (const [id, transfer] of this.running) if (transfer.direction === direction) this.running.delete(id);
  }

  private noteFailures(direction: Direction, failures: Failures): void {
    this.retryDue.set(direction, failures.errors.some(mayPass));
  }
}

/** The failures of one batch of transfers: each file's, so that one file's failure does not stop the others. */
class Failures {
  readonly errors: unknown[] = [];
  private readonly byKey = new Map<string, unknown>();
  get first(): unknown {
    return this.errors[0];
  }
  /** The failure of one file's transfer, if it failed on its own (undefined when the whole batch did). */
  of(key: string): unknown {
    return this.byKey.get(key);
  }
  readonly onFileDone = (item: { key: string }, outcome: { error?: unknown }): void => {
    if (outcome.error === undefined) return;
    this.errors.push(outcome.error);
    this.byKey.set(item.key, outcome.error);
  };
  readonly add = (error: unknown): undefined => {
    this.errors.push(error);
    return undefined;
  };
}

const DISK_FULL = new Set(["ENOSPC", "EDQUOT"]);

/** Content this large is sent as soon as it is added (a multipart upload: see sendEarly). */
const EARLY_SEND_BYTES = 16 * 1024 * 1024;

/** A failure as one line a person reads. */
function messageOf(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).replace(/\s*\n\s*/g, " ");
}

function mayPass(error: unknown): boolean {
  return isTransient(error) || DISK_FULL.has((error as NodeJS.ErrnoException | undefined)?.code ?? "");
}

/**
 * Looks at the blobs of the folder's commit the stat cache does not know to be pointers or not (a cache
 * from an older version, paths adopted after a crash, small files written by hand): their sizes first, then
 * the ones small enough to be pointers read, one batch each. Returns how many entries it learnt about.
 */
export async function learnAnnexed(repo: LocalRepo): Promise<number> {
  const entries = repo.cache.entries;
  const unknown: Array<[string, CacheEntry]> = [];
  for (const [path, entry] of entries.annexedUnknown())
    if (!entry.ghost) {
      if (entry.mode === "120000" || entry.mode === "160000") entries.set(path, { ...entry, annexed: false });
      else unknown.push([path, entry]);
    }
  if (unknown.length === 0) return 0;
  const sizes = await objectSizes(
    repo.git.gitDir,
    unknown.map(([, entry]) => entry.oid),
  );
  const small = unknown.filter((_, i) => mayBePointerSize(sizes[i]!));
  const blobs = await readObjects(
    repo.git.gitDir,
    small.map(([, entry]) => entry.oid),
  );
  const keys = new Map<string, string | false>();
  small.forEach(([path], i) => keys.set(path, blobs[i] ? (parsePointer(blobs[i]) ?? false) : false));
  // Entries are replaced, never changed in place: the cache writes only what changed (stat-cache.ts).
  for (const [path, entry] of unknown) entries.set(path, { ...entry, annexed: keys.get(path) ?? false });
  return unknown.length;
}

/**
 * Puts the content of `key` in place of every file of the folder that is still its pointer: the path its
 * job named, and every other the stat cache knows by the pointer's blob (a rename or a copy that arrived
 * while the content was downloading). Returns the paths that took it.
 */
export async function placeAtPointers(repo: LocalRepo, port: AnnexPort, path: string, key: string): Promise<string[]> {
  const placed: string[] = [];
  for (const other of new Set([path, ...repo.cache.entries.withOid(pointerBlobId(key))]))
    if (await repo.placeContent(other, key, port)) placed.push(other);
  return placed;
}

/** The git blob id of a key's pointer file (how a tree names an annexed file). */
function pointerBlobId(key: string): string {
  const pointer = Buffer.from(formatPointer(key));
  return createHash("sha1").update(`blob ${pointer.length}\0`).update(pointer).digest("hex");
}

function dedupe(jobs: TransferJob[]): TransferJob[] {
  const seen = new Map<string, TransferJob>();
  for (const job of jobs) if (!seen.has(job.key)) seen.set(job.key, job);
  return [...seen.values()];
}

function transferOf(job: TransferJob) {
  return { key: job.key, ...(job.path ? { fileName: basename(job.path) } : {}) };
}
