import { basename } from "node:path";
import { parseAnnexKey } from "../protocol/index.ts";
import { AnnexBranch } from "./logs/annex-branch.ts";
import { hashStream, keyCheck, mismatch, verifyFile } from "./content/content-hash.ts";
import { withContentLock } from "./content/content-lock.ts";
import { downloadKey, type DownloadResult } from "./transfer/download.ts";
import { dropRefused, stillWanted } from "./content/drop-safety.ts";
import { wantersLacking, type Wanter } from "./logs/preferred-content.ts";
import { LocalStore, md5 } from "./content/local-store.ts";
import { locationLogPath, parseLocationLog } from "./logs/location-log.ts";
import { readLocations, recordPresence, type PresenceChange } from "./logs/location-tracking.ts";
import { readNumCopies } from "./content/numcopies.ts";
import { withRetry } from "./transfer/retry.ts";
import type { CloudContent, TransferOptions } from "./transfer/transfer-settings.ts";
import { mapLimit } from "../objectstore/index.ts";
import { BlobReader } from "../localgit/index.ts";
import { uploadKey, type UploadResult } from "./transfer/upload.ts";
import { RateLimiter } from "./transfer/rate-limit.ts";
import { parseUuidLog } from "./logs/uuid-log.ts";

/**
 * Annexed content of one repository: the local object store, the cloud copy, and the location logs in the
 * git-annex branch. This is the API the agent (sync engine, daemon) and the CLI use; docs/annex.md
 * describes it. Every change of presence is recorded in the git-annex branch and then `publish` is called
 * (the agent pushes the git-annex branch there), after the content itself is in place.
 */
export interface AnnexOptions {
  /** The repository's .git directory. */
  gitDir: string;
  /** This repository's git-annex UUID (= the agent id). */
  uuid: string;
  cloud: CloudContent;
  /** The cloud special remote's UUID (ensureCloudUuid). */
  cloudUuid: string;
  /** Called after the git-annex branch changed, to push it (runs once per batch). */
  publish?: () => Promise<void>;
  /** Bandwidth limits every upload and every download of this annex shares (unlimited when absent). */
  limits?: BandwidthLimits;
}

export interface BandwidthLimits {
  readonly up: RateLimiter;
  readonly down: RateLimiter;
}

export interface KeyTransfer {
  key: string;
  /** The work-tree name (object metadata; progress display). */
  fileName?: string;
}

export interface BatchOptions extends TransferOptions {
  /** Files transferred at once (default 4). */
  parallelFiles?: number;
  /** Progress per file (instead of `onProgress`). */
  onFileProgress?: (item: KeyTransfer, bytesDone: number, bytesTotal: number) => void;
  /** Called as each file finishes; with it, one file's failure does not stop the others (they are reported here). */
  onFileDone?: (item: KeyTransfer, outcome: { result?: UploadResult | DownloadResult; error?: unknown }) => void;
}

export interface Location {
  uuid: string;
  description: string;
  here: boolean;
  cloud: boolean;
}

export interface FsckProblem {
  key: string;
  where: "here" | "cloud";
  problem: string;
}

export class Annex {
  readonly gitDir: string;
  readonly uuid: string;
  readonly cloud: CloudContent;
  readonly cloudUuid: string;
  readonly local: LocalStore;
  readonly branch: AnnexBranch;
  readonly limits: BandwidthLimits;
  private readonly publish: () => Promise<void>;

  constructor(options: AnnexOptions) {
    this.gitDir = options.gitDir;
    this.uuid = options.uuid;
    this.cloud = options.cloud;
    this.cloudUuid = options.cloudUuid;
    this.local = new LocalStore(options.gitDir);
    this.branch = new AnnexBranch(options.gitDir);
    this.publish = options.publish ?? (async () => {});
    this.limits = options.limits ?? { up: new RateLimiter(), down: new RateLimiter() };
  }

  /** Hashes a work-tree file into the local store and records that this repository has it; returns its key. */
  async add(file: string): Promise<string> {
    const key = await this.local.ingest(file);
    await this.record([{ key, uuid: this.uuid, present: true }], `add ${basename(file)}`);
    return key;
  }

  /** Uploads keys present here to the cloud, then records the cloud as having them (one commit, one publish). */
  upload(keys: readonly KeyTransfer[], options: BatchOptions = {}): Promise<Map<string, UploadResult>> {
    return this.batch(keys, options, this.cloudUuid, "upload to cloud", (item, itemOptions) =>
      uploadKey(this.local, this.cloud, item.key, {
        ...itemOptions,
        limiter: this.limits.up,
        ...(item.fileName ? { fileName: item.fileName } : {}),
      }),
    );
  }

  /**
   * Sends one key's content to the cloud without recording it (a head start: the `upload` that must
   * follow finds the object there, sends nothing again, and records the cloud as having it).
   */
  send(key: string, options: Pick<TransferOptions, "fileName" | "onProgress"> = {}): Promise<UploadResult> {
    return uploadKey(this.local, this.cloud, key, { ...options, limiter: this.limits.up });
  }

  /** Downloads keys from the cloud into the local store (each verified), then records this repository as having them. */
  get(keys: readonly KeyTransfer[], options: BatchOptions = {}): Promise<Map<string, DownloadResult>> {
    return this.batch(keys, options, this.uuid, "get from cloud", (item, itemOptions) =>
      downloadKey(this.local, this.cloud, item.key, { ...itemOptions, limiter: this.limits.down }),
    );
  }

  /**
   * Runs transfers with `parallelFiles` in flight. Each file's arrival is recorded in the location log as
   * soon as its transfer succeeds, before the file counts as done (`onFileDone`, the result): as git-annex
   * writes its journal per file, whoever sees the content (a file put in place, `fsck`) sees the log say
   * so too, and a crash loses at most the records of transfers not yet reported done (their jobs stay
   * queued, and the next attempt finds the content and records it). Files finishing while a record is
   * being written share the next one; the branch is published once, after the batch.
   */
  private async batch<T extends UploadResult | DownloadResult>(
    keys: readonly KeyTransfer[],
    options: BatchOptions,
    destination: string,
    message: string,
    transfer: (item: KeyTransfer, itemOptions: TransferOptions) => Promise<T>,
  ): Promise<Map<string, T>> {
    const results = new Map<string, T>();
    const recorder = new PresenceRecorder(this.branch, message);
    // A file counts as done once its record is written; meanwhile its slot takes the next file, so records
    // are written beside the transfers (many small files: a commit per wave, not a wait per file).
    const recording: Array<Promise<void>> = [];
    let recordFailure: { error: unknown } | undefined;
    const done = (item: KeyTransfer, outcome: { result?: T; error?: unknown }) => {
      if (options.onFileDone) options.onFileDone(item, outcome);
      else if (outcome.error !== undefined) recordFailure ??= { error: outcome.error };
    };
    try {
      await mapLimit(keys, options.parallelFiles ?? 4, async (item) => {
        const perFile = options.onFileProgress;
        const itemOptions = perFile ? { ...options, onProgress: (done: number, total: number) => perFile(item, done, total) } : options;
        let result: T;
        try {
          result = await transfer(item, itemOptions);
        } catch (error) {
          if (!options.onFileDone) throw error;
          options.onFileDone(item, { error });
          return;
        }
        recording.push(
          recorder.record({ key: item.key, uuid: destination, present: true }).then(
            () => {
              results.set(item.key, result);
              done(item, { result });
            },
            (error: unknown) => done(item, { error }),
          ),
        );
      });
    } finally {
      recorder.flush();
      try {
        await Promise.all(recording);
      } finally {
        // Its git process ends with the batch, whatever a file's callback threw.
        await recorder.close();
      }
      if (recorder.recorded > 0) await this.publish();
    }
    if (recordFailure) throw recordFailure.error;
    return results;
  }

  /** Removes this repository's copy, if the cloud's copy is verified to exist (see drop-safety.ts). */
  async dropLocal(key: string): Promise<{ dropped: boolean }> {
    const dropped = await withContentLock(this.gitDir, key, async () => {
      if (!(await this.local.has(key))) return false;
      const numcopies = await readNumCopies(this.branch);
      // The cloud's copy counts only once its bytes hash to the key: an object of the right size may hold anything.
      const verified = (await this.checkCloudObject(key)) === undefined ? ["the cloud's copy"] : [];
      if (verified.length < numcopies) throw dropRefused(key, "here", verified, numcopies);
      await this.local.remove(key);
      return true;
    });
    await this.record([{ key, uuid: this.uuid, present: false }], "drop");
    return { dropped };
  }

  /**
   * Deletes the cloud's copy, if this repository's own copy is present (see drop-safety.ts) and — unless
   * `force` — no machine wants the content without having it (the cloud is how content reaches a machine:
   * preferred-content.ts).
   */
  async dropFromCloud(key: string, options: { force?: boolean } = {}): Promise<{ dropped: boolean }> {
    const bucketKey = this.cloud.layout.annexObject(this.cloud.repo, key);
    if (!options.force) {
      const lacking = (await this.wantersLacking([key])).get(key);
      if (lacking) throw stillWanted(key, lacking);
    }
    const dropped = await withContentLock(this.gitDir, key, async () => {
      if (!(await this.cloudHas(key))) return false;
      const numcopies = await readNumCopies(this.branch);
      const verified =
        (await this.local.has(key)) && (await verifyFile(this.local.objectPath(key), key)) === undefined ? ["this repository's copy"] : [];
      if (verified.length < numcopies) throw dropRefused(key, "cloud", verified, numcopies);
      await withRetry(() => this.cloud.store.delete(bucketKey));
      return true;
    });
    await this.record([{ key, uuid: this.cloudUuid, present: false }], "drop from cloud");
    return { dropped };
  }

  /** For each key, the machines that want it and lack it: the cloud must keep (or get back) that content. */
  wantersLacking(keys: readonly string[]): Promise<Map<string, Wanter[]>> {
    return wantersLacking(this.branch, keys, this.cloudUuid);
  }

  /** Where the location log says the key is, with each repository's description from uuid.log. */
  async whereis(key: string): Promise<Location[]> {
    const [locations, uuidLog] = await Promise.all([readLocations(this.branch, key), this.branch.read("uuid.log")]);
    const descriptions = parseUuidLog(uuidLog ?? "");
    return [...locations.values()]
      .filter((entry) => entry.status === "1")
      .map((entry) => ({
        uuid: entry.uuid,
        description: descriptions.get(entry.uuid)?.description ?? "",
        here: entry.uuid === this.uuid,
        cloud: entry.uuid === this.cloudUuid,
      }));
  }

  /**
   * Re-hashes local content (all keys here, or `keys`) and reports mismatches and log disagreements.
   * Nothing is deleted or rewritten: a damaged copy is for a person to look at.
   */
  async fsckLocal(keys?: readonly string[], onKey?: (key: string) => void): Promise<FsckProblem[]> {
    const problems: FsckProblem[] = [];
    const all = keys ?? (await collect(this.local.keys()));
    for (const key of all) {
      onKey?.(key);
      const present = await this.local.has(key);
      const logged = (await readLocations(this.branch, key)).get(this.uuid)?.status === "1";
      if (!present) {
        if (logged)
          problems.push({ key, where: "here", problem: "the location log says this repository has it, but the content is missing" });
        continue;
      }
      const mismatch = await verifyFile(this.local.objectPath(key), key).catch((error: Error) => error.message);
      if (mismatch) problems.push({ key, where: "here", problem: `the local copy is damaged: ${mismatch}` });
      else if (!logged) problems.push({ key, where: "here", problem: "the content is here but the location log does not say so" });
    }
    return problems;
  }

  /** Streams the cloud's objects (all under annex/<repo>/, or `keys`) through the hash and reports mismatches. */
  async fsckCloud(keys?: readonly string[], onKey?: (key: string) => void): Promise<FsckProblem[]> {
    const problems: FsckProblem[] = [];
    const root = this.cloud.layout.annexRoot(this.cloud.repo);
    const all: string[] = keys ? [...keys] : [];
    if (!keys) {
      for await (const object of this.cloud.store.list(root)) {
        const parsed = this.cloud.layout.parse(object.key);
        if (parsed.kind === "annex-object") all.push(parsed.key);
      }
    }
    for (const key of all) {
      onKey?.(key);
      const logged = (await readLocations(this.branch, key)).get(this.cloudUuid)?.status === "1";
      const problem = await this.checkCloudObject(key);
      if (problem === "missing") {
        if (logged) problems.push({ key, where: "cloud", problem: "the location log says the cloud has it, but there is no object" });
      } else if (problem) {
        problems.push({ key, where: "cloud", problem });
      } else if (!logged) {
        problems.push({ key, where: "cloud", problem: "the object is in the cloud but the location log does not say so" });
      }
    }
    return problems;
  }

  /**
   * Which of `keys` the location log says this repository has (one batched read). Content is in the store
   * for a moment before its log says so (a transfer being recorded), and for longer after a crash between
   * the two: whatever shows content to a person checks here first.
   */
  async loggedHere(keys: readonly string[]): Promise<Set<string>> {
    const head = await this.branch.head();
    const logs = await this.branch.readMany(
      keys.map((key) => locationLogPath(key, md5)),
      head,
    );
    return new Set(keys.filter((_, i) => parseLocationLog(logs[i] ?? "").get(this.uuid)?.status === "1"));
  }

  /**
   * Records this repository as having those of `keys` (content that is here) whose location log does not
   * say so: content a crash left in the store without its record. Returns how many were recorded.
   */
  async recordHere(keys: readonly string[]): Promise<number> {
    const logged = await this.loggedHere(keys);
    const unlogged = keys.filter((key) => !logged.has(key));
    await this.record(
      unlogged.map((key) => ({ key, uuid: this.uuid, present: true })),
      "record content found here",
    );
    return unlogged.length;
  }

  /** Records presence changes and publishes them. */
  async record(changes: PresenceChange[], message: string): Promise<void> {
    if (changes.length === 0) return;
    await recordPresence(this.branch, changes, message);
    await this.publish();
  }

  private async cloudHas(key: string): Promise<boolean> {
    const info = await withRetry(() => this.cloud.store.head(this.cloud.layout.annexObject(this.cloud.repo, key)));
    const size = parseAnnexKey(key).size;
    return info !== undefined && (size === undefined || info.size === size);
  }

  private async checkCloudObject(key: string): Promise<string | "missing" | undefined> {
    const check = keyCheck(key);
    // A body cut off on the way is read again, as a download's is; only bytes that arrived whole are judged.
    const actual = await withRetry(async () => {
      const object = await this.cloud.store.getStream(this.cloud.layout.annexObject(this.cloud.repo, key));
      return object ? hashStream(object.stream, check.algorithm) : undefined;
    });
    if (!actual) return "missing";
    const why = mismatch(check, actual);
    return why ? `the object is damaged: ${why}` : undefined;
  }
}

/**
 * Writes presence changes to the git-annex branch as they come, one commit at a time: changes that arrive
 * while a commit is being written go together into the next one (a batch of small files makes a few
 * commits, not one each). `record` resolves once the change is in the branch.
 *
 * A commit begins no sooner than `WAVE_INTERVAL_MS` after the one before, unless `flush` said no more
 * changes are coming (the batch's transfers are over): each commit rewrites the branch's top tree (a
 * folder per three-digit hash prefix, up to 4,096 entries), which costs the same for one file as for a
 * hundred, so commits as fast as they could go made many small ones, and more CPU in all. A file's record
 * (and what waits for it: the file put in place) comes up to that much later. The commits read the old logs and trees through one `cat-file` kept for the batch (`close` ends
 * it), not two git processes each.
 */
class PresenceRecorder {
  /** Changes written so far. */
  recorded = 0;
  private readonly branch: AnnexBranch;
  private readonly message: string;
  private waiting: Array<{ change: PresenceChange; done: (error?: unknown) => void }> = [];
  private writing = false;
  private flushing = false;
  /** When the last commit began (performance.now()). */
  private lastWave = -Infinity;
  private timer: NodeJS.Timeout | undefined;
  private reader: BlobReader | undefined;

  constructor(branch: AnnexBranch, message: string) {
    this.branch = branch;
    this.message = message;
  }

  record(change: PresenceChange): Promise<void> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ change, done: (error) => (error === undefined ? resolve() : reject(error as Error)) });
      this.schedule();
    });
  }

  /** No more changes are coming: what waits is written now, and what comes later at once. */
  flush(): void {
    this.flushing = true;
    this.schedule();
  }

  private schedule(): void {
    if (this.writing || this.waiting.length === 0) return;
    const wait = this.flushing ? 0 : this.lastWave + WAVE_INTERVAL_MS - performance.now();
    if (wait <= 0) {
      clearTimeout(this.timer);
      this.timer = undefined;
      void this.write();
    } else {
      this.timer ??= setTimeout(() => {
        this.timer = undefined;
        this.schedule();
      }, wait);
    }
  }

  private async write(): Promise<void> {
    this.writing = true;
    this.lastWave = performance.now();
    const batch = this.waiting;
    this.waiting = [];
    if (!this.reader || this.reader.isClosed) this.reader = new BlobReader(this.branch.gitDir);
    const error = await recordPresence(
      this.branch,
      batch.map((w) => w.change),
      this.message,
      this.reader,
    ).then(
      () => undefined,
      (failure: unknown) => failure ?? new Error("recording the location log failed"),
    );
    if (error === undefined) this.recorded += batch.length;
    for (const waiter of batch) waiter.done(error);
    this.writing = false;
    this.schedule();
  }

  /** Ends the kept reader, once every `record` has resolved. */
  async close(): Promise<void> {
    await this.reader?.close();
    this.reader = undefined;
  }
}

/**
 * The least time between two commits of one batch's records (see PresenceRecorder). 500 files of 100 KiB
 * each way, load average 9-10 on the 2 cores, two rounds each: at 200 ms, 12-21 commits (up to 64 files
 * each are written by this thread), upload 4.1-5.0 s with 1.8-1.9 s of this process's CPU, download
 * 3.2-6.2 s with 2.3-2.8 s; at 600 ms, 5-9 commits (the larger ones through git's index, beside this
 * thread), upload 2.2-3.2 s with 1.1-1.5 s, download 2.6-5.6 s with 1.5-2.3 s; the batch's last commit
 * took 110-220 ms (350-1,300 ms before: as fast as they could go, the first commits were small and the
 * files that landed meanwhile made a last one of hundreds). At 1,000 ms: no better.
 */
const WAVE_INTERVAL_MS = 600;

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const all: T[] = [];
  for await (const item of items) all.push(item);
  return all;
}
