import { createHash, type Hash } from "node:crypto";
import { mkdir, open, rm, stat, type FileHandle } from "node:fs/promises";
import type { Readable } from "node:stream";
import { keyCheck, mismatch } from "../content/content-hash.ts";
import { AnnexError } from "../errors.ts";
import { FileHasher } from "./file-hasher.ts";
import { GcPacer } from "./gc-pacer.ts";
import type { RateLimiter } from "./rate-limit.ts";
import type { LocalStore } from "../content/local-store.ts";
import { withRetry } from "./retry.ts";
import { readState, removeState, writeState } from "./transfer-state.ts";
import {
  DEFAULT_CONCURRENCY,
  DEFAULT_MULTIPART_THRESHOLD,
  DEFAULT_RANGE_SIZE,
  partSizeFor,
  type CloudContent,
  type TransferOptions,
} from "./transfer-settings.ts";
import { mapLimit, UndecryptableObject } from "../../objectstore/index.ts";

/**
 * Downloads `annex/<repo>/<KEY>` into the local store.
 *
 * The bytes go to `.git/annex/tmp/<KEY>` (streamed, or for large objects as ranged GETs in parallel,
 * each written at its offset), are hashed and compared with the key, and only then renamed into
 * `.git/annex/objects/`. An object whose bytes do not match its key is refused with an AnnexError "corrupt-object"
 * and the temporary file removed, so the local copy stays absent rather than wrong. A killed ranged
 * download resumes: the ranges already written are recorded next to the temporary file, valid while the
 * object's ETag is unchanged; if the resumed file fails verification it is fetched once more from scratch.
 */
function contentNotInCloud(key: string, bucketKey: string): AnnexError {
  return new AnnexError(
    "content-not-in-cloud",
    key,
    `The cloud has no content for ${key} (no object ${bucketKey}). Another agent must upload it first (\`cloudbridge whereis\` shows who has it).`,
  );
}

function corruptObject(key: string, bucketKey: string, why: string): AnnexError {
  return new AnnexError(
    "corrupt-object",
    key,
    `Refused ${bucketKey}: its bytes do not match the key ${key} (${why}). The local copy stays absent. ` +
      "The object in the bucket is damaged or was replaced. On a machine that has a good copy of the file (`cloudbridge whereis FILE` " +
      "names them), replace the cloud's: `cloudbridge drop --from cloud --force FILE`, then `cloudbridge copy --to cloud FILE` " +
      "(`cloudbridge fsck --from cloud FILE` checks it).",
  );
}

export interface DownloadResult {
  /** False when the content was already here. */
  readonly downloaded: boolean;
  readonly size: number;
}

interface RangeRecord {
  etag: string;
  size: number;
  rangeSize: number;
  done: number[];
}

const isRangeRecord = (v: unknown): v is RangeRecord =>
  typeof v === "object" && v !== null && typeof (v as RangeRecord).etag === "string" && Array.isArray((v as RangeRecord).done);

export async function downloadKey(
  local: LocalStore,
  cloud: CloudContent,
  key: string,
  options: TransferOptions = {},
): Promise<DownloadResult> {
  const check = keyCheck(key);
  if (await local.has(key)) return { downloaded: false, size: check.size ?? 0 };
  const bucketKey = cloud.layout.annexObject(cloud.repo, key);
  const tmp = local.tmpPath(key);
  const recordPath = `${tmp}.cloudbridge-ranges.json`;
  const threshold = options.multipartThreshold ?? DEFAULT_MULTIPART_THRESHOLD;
  const refuse = (why: string): never => {
    throw corruptObject(key, bucketKey, why);
  };

  let size: number;
  /** Whether a verified second copy of the bytes was written beside the temporary (see LocalStore.sparePath). */
  let spare = false;
  if (check.size !== undefined && check.size < threshold) {
    // Small content: one GET (no HEAD first), hashed as it streams to disk and fsynced through the same
    // handle. A small download keeps no ranges record, and makes .git/annex/tmp only when it is missing:
    // with many small files those steps, each a trip through libuv's four threads shared with every
    // fsync in flight, were half of a file's file-system work.
    size = check.size;
    const actual = await withRetry(
      () => streamWhole(local, cloud, key, bucketKey, tmp, check.algorithm, size, options),
      retry(options),
    ).catch(async (error: unknown) => {
      await rm(tmp, { force: true });
      throw error;
    });
    const why = mismatch(check, actual);
    if (why) {
      await rm(tmp, { force: true });
      refuse(why);
    }
  } else {
    await mkdir(local.tmpDir, { recursive: true });
    await local.dropSpare(key);
    const info = await withRetry(() => cloud.store.head(bucketKey), retry(options));
    if (!info) throw contentNotInCloud(key, bucketKey);
    if (check.size !== undefined && info.size !== check.size) refuse(`it is ${info.size} bytes, the key says ${check.size}`);
    size = info.size;
    for (let fresh = false; ; fresh = true) {
      const { resumed, hex, spared } = await downloadRanges(
        cloud,
        key,
        bucketKey,
        tmp,
        recordPath,
        local.sparePath(key),
        info.etag,
        size,
        check.algorithm,
        fresh,
        options,
      ).catch(async (error: unknown) => {
        // Sealed content that does not decrypt was altered in the bucket: keep nothing of it (an interrupted
        // download keeps its verified ranges to resume; this is not one).
        if (error instanceof UndecryptableObject) {
          await rm(tmp, { force: true });
          await removeState(recordPath);
        }
        await local.dropSpare(key);
        throw error;
      });
      const why = mismatch(check, { hex, size });
      spare = spared && !why;
      if (!why) break;
      await local.dropSpare(key);
      await rm(tmp, { force: true });
      await removeState(recordPath);
      // Ranges kept from an earlier run may be what is wrong: fetch everything once more before refusing.
      if (!resumed || fresh) refuse(why);
    }
    const handle = await open(tmp, "r+");
    await handle.sync();
    await handle.close();
    await removeState(recordPath);
  }
  await local.insertVerified(key, tmp);
  if (spare) local.spareVerified(key);
  return { downloaded: true, size };
}

/**
 * One GET written to `tmp` through the hash, and fsynced, through one handle. No more than the key's `size`
 * bytes are written: a larger object (damaged, or replaced by someone who can write the bucket) is refused
 * at its first byte too many, without filling the disk first.
 */
async function streamWhole(
  local: LocalStore,
  cloud: CloudContent,
  key: string,
  bucketKey: string,
  tmp: string,
  algorithm: string,
  size: number,
  options: TransferOptions,
): Promise<{ hex: string; size: number }> {
  const object = await cloud.store.getStream(bucketKey);
  if (!object) throw contentNotInCloud(key, bucketKey);
  const file = await createTemporary(local, tmp).catch((error: unknown) => {
    object.stream.destroy();
    throw error;
  });
  try {
    const hash = createHash(algorithm);
    let done = 0;
    const arrived = (bytes: number) => options.onProgress?.((done += bytes), size);
    const written = await writeAt([file], object.stream, 0, size - 1, new GcPacer(), options.signal, options.limiter, arrived, hash).catch(
      (error: unknown) => {
        throw error instanceof TooManyBytes ? corruptObject(key, bucketKey, `it is longer than the ${size} bytes the key says`) : error;
      },
    );
    await file.sync();
    return { hex: hash.digest("hex"), size: written };
  } finally {
    await file.close();
  }
}

/** `tmp` opened for writing, empty; .git/annex/tmp is made only when it is missing (the first download, or removed since). */
async function createTemporary(local: LocalStore, tmp: string): Promise<FileHandle> {
  try {
    return await open(tmp, "w");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
  await mkdir(local.tmpDir, { recursive: true });
  return open(tmp, "w");
}

/**
 * Ranged GETs in parallel into `tmp`. The file is hashed in order while later ranges are still arriving:
 * whenever the ranges from the start are complete, the new stretch is read back (from the page cache) and
 * hashed on a worker thread, so no second pass over the file is needed after the last range. Returns the digest and whether
 * ranges from an earlier run were reused.
 */
async function downloadRanges(
  cloud: CloudContent,
  key: string,
  bucketKey: string,
  tmp: string,
  recordPath: string,
  sparePath: string,
  etag: string,
  size: number,
  algorithm: string,
  fresh: boolean,
  options: TransferOptions,
): Promise<{ resumed: boolean; hex: string; spared: boolean }> {
  const rangeSize = partSizeFor(size, options.partSize ?? DEFAULT_RANGE_SIZE);
  let record = fresh ? undefined : await readState(recordPath, isRangeRecord);
  const tmpSize = await stat(tmp).then(
    (s) => s.size,
    () => -1,
  );
  if (!record || record.etag !== etag || record.size !== size || record.rangeSize !== rangeSize || tmpSize !== size) {
    record = { etag, size, rangeSize, done: [] };
    const created = await open(tmp, "w");
    await created.truncate(size);
    await created.close();
    await writeState(recordPath, record);
  }
  const current = record;
  const resumed = current.done.length > 0;
  const count = Math.ceil(size / rangeSize);
  const finished = new Set(current.done);
  let bytesDone = current.done.reduce((sum, i) => sum + Math.min(rangeSize, size - i * rangeSize), 0);
  let saving = Promise.resolve();
  const pacer = new GcPacer();
  const file = await open(tmp, "r+");
  // A download from the start also writes every range into a spare copy, which the file put in the work
  // tree becomes (no copy from the store afterwards); a resumed one does not have the earlier ranges there.
  const spare = resumed || !options.spare ? undefined : await open(sparePath, "w");
  // Hashed on a worker thread as far as the ranges from the start are complete (file-hasher.ts).
  const hasher = new FileHasher(tmp, algorithm);
  let hashedRanges = 0;
  const hashReadyRanges = () => {
    while (hashedRanges < count && finished.has(hashedRanges)) hashedRanges++;
    hasher.advance(Math.min(size, hashedRanges * rangeSize));
  };
  hashReadyRanges();
  let hashed: { hex: string; size: number } | undefined;
  try {
    const todo = Array.from({ length: count }, (_, i) => i).filter((i) => !finished.has(i));
    await mapLimit(todo, options.concurrency ?? DEFAULT_CONCURRENCY, async (i) => {
      const start = i * rangeSize;
      const end = Math.min(size, start + rangeSize) - 1;
      // Progress counts bytes as they arrive; a range that is tried again takes back what its failed attempt counted.
      let counted = 0;
      const arrived = (bytes: number) => {
        counted += bytes;
        bytesDone += bytes;
        options.onProgress?.(bytesDone, size);
      };
      await withRetry(async () => {
        bytesDone -= counted;
        counted = 0;
        const object = await cloud.store.getStream(bucketKey, { range: { start, end } });
        if (!object) throw contentNotInCloud(key, bucketKey);
        if (object.etag && object.etag !== etag) {
          throw new Error(`${bucketKey} changed during the download (ETag ${object.etag}, was ${etag}).`);
        }
        const written = await writeAt([file, spare], object.stream, start, end, pacer, options.signal, options.limiter, arrived);
        if (written !== end - start + 1) {
          throw Object.assign(new Error(`range ${start}-${end} of ${bucketKey} ended early`), { code: "ECONNRESET" });
        }
      }, retry(options));
      current.done.push(i);
      finished.add(i);
      saving = saving.then(() => writeState(recordPath, current));
      hashReadyRanges();
      await saving;
    });
    hashed = await hasher.digest();
  } finally {
    if (!hashed) hasher.abandon();
    await file.close();
    await spare?.close();
  }
  if (hashed.size !== size) throw new Error(`${tmp} is shorter than the ranges written to it`);
  return { resumed, hex: hashed.hex, spared: spare !== undefined };
}

/**
 * Writes a range's bytes at their offset into `files` (the temporary, and the spare copy when there is one).
 * The socket's chunks (64 KiB) are written a batch at a time, one `writev` per file: a write per chunk and
 * file was 3,200 calls for 100 MiB, each a trip through libuv's threads that the daemon's one thread paid
 * for in wake-ups on a busy machine.
 */
async function writeAt(
  files: ReadonlyArray<FileHandle | undefined>,
  stream: Readable,
  start: number,
  end: number,
  pacer: GcPacer,
  signal?: AbortSignal,
  limiter?: RateLimiter,
  arrived?: (bytes: number) => void,
  hash?: Hash,
): Promise<number> {
  let position = start;
  let batch: Buffer[] = [];
  let batched = 0;
  const flush = async () => {
    if (batched === 0) return;
    const [buffers, length] = [batch, batched];
    [batch, batched] = [[], 0];
    await Promise.all(files.map((file) => file && writeAllOf(file, buffers, length, position)));
    position += length;
    arrived?.(length);
  };
  for await (const chunk of stream) {
    if (signal?.aborted) throw signal.reason;
    const buffer = chunk as Buffer;
    await limiter?.take(buffer.length, signal);
    pacer.add(buffer.length);
    if (position + batched + buffer.length > end + 1) throw new TooManyBytes();
    hash?.update(buffer);
    batch.push(buffer);
    batched += buffer.length;
    if (batched >= WRITE_BATCH) await flush();
  }
  await flush();
  return position - start;
}

/** The store sent more bytes than the range (or the whole object's key) asked for. */
class TooManyBytes extends Error {
  constructor() {
    super("the store sent more bytes than the range asked for");
  }
}

/** Bytes of a range gathered before they are written (memory: this much per range in flight). */
const WRITE_BATCH = 1024 * 1024;

async function writeAllOf(file: FileHandle, buffers: Buffer[], length: number, position: number): Promise<void> {
  const { bytesWritten } = await file.writev(buffers, position);
  if (bytesWritten < length) await writeAll(file, Buffer.concat(buffers, length).subarray(bytesWritten), position + bytesWritten);
}

async function writeAll(file: FileHandle, buffer: Buffer, position: number): Promise<void> {
  for (let offset = 0; offset < buffer.length;) {
    const { bytesWritten } = await file.write(buffer, offset, buffer.length - offset, position + offset);
    offset += bytesWritten;
  }
}

function retry(options: TransferOptions) {
  return options.signal ? { signal: options.signal } : {};
}
