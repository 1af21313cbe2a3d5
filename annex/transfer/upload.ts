import { createHash } from "node:crypto";
import { open, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { NoSuchUpload, PreconditionFailed, mapLimit } from "../../objectstore/index.ts";
import { AnnexError } from "../errors.ts";
import { contentTypeFor, objectMetadata } from "./content-type.ts";
import { GcPacer } from "./gc-pacer.ts";
import { keyCheck } from "../content/content-hash.ts";
import type { LocalStore } from "../content/local-store.ts";
import { withRetry } from "./retry.ts";
import { readState, removeState, writeState } from "./transfer-state.ts";
import {
  DEFAULT_CONCURRENCY,
  DEFAULT_MULTIPART_THRESHOLD,
  DEFAULT_PART_SIZE,
  partSizeFor,
  type CloudContent,
  type TransferOptions,
} from "./transfer-settings.ts";

/**
 * Uploads a key's content from the local store to `annex/<repo>/<KEY>`.
 *
 * - Small content: one PUT with If-None-Match: * (one request; 412 means the object is already there).
 * - Large content: a multipart upload driven part by part. The upload id and each part's ETag are recorded
 *   under `.git/annex/cloudbridge/uploads/` as they complete, so a killed upload resumes: parts whose
 *   recorded ETag equals the MD5 of the local bytes are not sent again. Each part carries the SDK's checksum
 *   (verified by S3), the whole file's hash is checked against the key before completing, and the object
 *   appears under its key only at CompleteMultipartUpload (If-None-Match: *), so no partial or wrong
 *   object is ever visible under a key.
 *
 * Memory is about partSize × concurrency, whatever the file size.
 */
export interface UploadResult {
  /** False when the object was already in the bucket. */
  readonly uploaded: boolean;
  readonly size: number;
}

function corruptLocalContent(key: string, path: string, why: string): AnnexError {
  return new AnnexError(
    "corrupt-local-content",
    key,
    `The local copy of ${key} (${path}) does not match its key: ${why}. Nothing was uploaded; run \`cloudbridge fsck\` to see what else is damaged.`,
  );
}

interface UploadRecord {
  bucketKey: string;
  uploadId: string;
  size: number;
  partSize: number;
  /** part number → ETag */
  parts: Record<string, string>;
}

const isUploadRecord = (v: unknown): v is UploadRecord =>
  typeof v === "object" && v !== null && typeof (v as UploadRecord).uploadId === "string" && typeof (v as UploadRecord).parts === "object";

export async function uploadKey(local: LocalStore, cloud: CloudContent, key: string, options: TransferOptions = {}): Promise<UploadResult> {
  const check = keyCheck(key);
  const path = local.objectPath(key);
  const size = (await stat(path)).size;
  if (check.size !== undefined && size !== check.size)
    throw corruptLocalContent(key, path, `it is ${size} bytes, the key says ${check.size}`);
  const bucketKey = cloud.layout.annexObject(cloud.repo, key);
  const writeOptions = { contentType: contentTypeFor(options.fileName ?? key), metadata: objectMetadata(options.fileName) };

  if (size < (options.multipartThreshold ?? DEFAULT_MULTIPART_THRESHOLD)) {
    const body = await readFile(path);
    const hex = createHash(check.algorithm).update(body).digest("hex");
    if (hex !== check.hex) throw corruptLocalContent(key, path, `its ${check.algorithm} is ${hex}`);
    await options.limiter?.take(size, options.signal);
    try {
      await withRetry(() => cloud.store.put(bucketKey, body, { ...writeOptions, ifNoneMatch: "*" }), retryOptions(options));
    } catch (error) {
      if (error instanceof PreconditionFailed) return { uploaded: false, size };
      throw error;
    }
    options.onProgress?.(size, size);
    return { uploaded: true, size };
  }

  const recordPath = join(local.gitDir, "annex", "cloudbridge", "uploads", `${key}.json`);
  const existing = await cloud.store.head(bucketKey);
  if (existing && existing.size === size) {
    const stale = await readState(recordPath, isUploadRecord);
    if (stale) await cloud.store.abortMultipartUpload(stale.bucketKey, stale.uploadId).catch(() => {});
    await removeState(recordPath);
    return { uploaded: false, size };
  }

  for (let attempt = 0; ; attempt++) {
    try {
      return await multipartUpload(cloud, key, path, size, bucketKey, recordPath, writeOptions, options);
    } catch (error) {
      // The recorded upload is gone (expired, aborted by a lifecycle rule, or S3 answered its Complete with
      // 409 ConditionalRequestConflict, which ends it): start a fresh one, a bounded number of times.
      if (error instanceof NoSuchUpload && attempt < FRESH_UPLOAD_ATTEMPTS) {
        await removeState(recordPath);
        continue;
      }
      throw error;
    }
  }
}

/** How many times a multipart upload whose upload id vanished is started afresh before giving up. */
const FRESH_UPLOAD_ATTEMPTS = 4;

async function multipartUpload(
  cloud: CloudContent,
  key: string,
  path: string,
  size: number,
  bucketKey: string,
  recordPath: string,
  writeOptions: { contentType: string; metadata: Record<string, string> },
  options: TransferOptions,
): Promise<UploadResult> {
  const check = keyCheck(key);
  const partSize = partSizeFor(size, options.partSize ?? DEFAULT_PART_SIZE);
  let record = await readState(recordPath, isUploadRecord);
  if (record && (record.size !== size || record.partSize !== partSize || record.bucketKey !== bucketKey)) {
    await cloud.store.abortMultipartUpload(record.bucketKey, record.uploadId).catch(() => {});
    record = undefined;
  }
  if (!record) {
    const uploadId = await withRetry(
      () => cloud.store.createMultipartUpload(bucketKey, { ...writeOptions, size, partSize }),
      retryOptions(options),
    );
    record = { bucketKey, uploadId, size, partSize, parts: {} };
    await writeState(recordPath, record);
  }
  const current = record;
  const partCount = Math.max(1, Math.ceil(size / partSize));
  const whole = createHash(check.algorithm);
  const pacer = new GcPacer();
  let done = 0;
  let saving = Promise.resolve();
  const file = await open(path, "r");
  try {
    // Parts are read in order (so the whole-file hash streams), and sent with `concurrency` in flight.
    function* parts() {
      for (let n = 1; n <= partCount; n++) yield n;
    }
    // Part buffers are reused (one per part in flight), so a large upload leaves no garbage behind.
    const pool: Buffer[] = [];
    let nextToRead = 1;
    const readQueue: Array<() => void> = [];
    let readFailure: unknown;
    const wakeReaders = () => readQueue.splice(0).forEach((wake) => wake());
    const readPart = async (n: number): Promise<Buffer> => {
      while (n !== nextToRead) {
        // A failed read stops the parts queued behind it (they would wait for it forever).
        if (readFailure !== undefined) throw readFailure;
        await new Promise<void>((resolve) => readQueue.push(resolve));
      }
      try {
        const length = Math.min(partSize, size - (n - 1) * partSize);
        const buffer = (pool.pop() ?? Buffer.allocUnsafe(partSize)).subarray(0, length);
        let offset = 0;
        while (offset < length) {
          const { bytesRead } = await file.read(buffer, offset, length - offset, (n - 1) * partSize + offset);
          if (bytesRead === 0) throw corruptLocalContent(key, path, "it ended early while being read");
          offset += bytesRead;
        }
        whole.update(buffer);
        nextToRead++;
        return buffer;
      } catch (error) {
        readFailure = error;
        throw error;
      } finally {
        wakeReaders();
      }
    };
    await mapLimit(parts(), options.concurrency ?? DEFAULT_CONCURRENCY, async (n) => {
      const buffer = await readPart(n);
      // A part recorded by an earlier run is reused only if its ETag is the MD5 of these bytes. Fresh parts
      // need no MD5 here: the SDK sends a checksum of the body that S3 verifies before it answers.
      const recorded = current.parts[n];
      const expected = (): string =>
        cloud.store.expectedPartEtag?.(bucketKey, current.uploadId, n, buffer) ?? createHash("md5").update(buffer).digest("hex");
      if (recorded === undefined || recorded !== expected()) {
        await options.limiter?.take(buffer.length, options.signal);
        const etag = await withRetry(
          () => cloud.store.uploadPart(bucketKey, current.uploadId, n, buffer, options.signal),
          retryOptions(options),
        );
        current.parts[n] = etag;
        saving = saving.then(() => writeState(recordPath, current));
        await saving;
      }
      done += buffer.length;
      // A store that transforms parts (encryption) makes garbage per part that V8 would let pile up.
      pacer.add(buffer.length);
      options.onProgress?.(done, size);
      pool.push(Buffer.from(buffer.buffer, buffer.byteOffset, partSize));
    });
  } finally {
    await file.close();
  }
  const hex = whole.digest("hex");
  if (hex !== check.hex) {
    await cloud.store.abortMultipartUpload(bucketKey, current.uploadId).catch(() => {});
    await removeState(recordPath);
    throw corruptLocalContent(key, path, `its ${check.algorithm} is ${hex}`);
  }
  const partList = Array.from({ length: partCount }, (_, i) => ({ partNumber: i + 1, etag: current.parts[i + 1]! }));
  let uploaded = true;
  try {
    await withRetry(
      () => cloud.store.completeMultipartUpload(bucketKey, current.uploadId, partList, { ifNoneMatch: "*" }),
      retryOptions(options),
    );
  } catch (error) {
    if (!(error instanceof PreconditionFailed)) throw error;
    // Someone else completed the same content first: theirs stands, ours is discarded.
    await cloud.store.abortMultipartUpload(bucketKey, current.uploadId).catch(() => {});
    uploaded = false;
  }
  await removeState(recordPath);
  return { uploaded, size };
}

function retryOptions(options: TransferOptions) {
  return options.signal ? { signal: options.signal } : {};
}
