import { WriteConflict } from "./object-store.ts";
import { retry } from "./retry.ts";
import { s3ErrorCode } from "./s3-requests.ts";

/**
 * S3's answer to a conditional write that raced another conditional operation on the same key:
 * `409 ConditionalRequestConflict`. It says nothing about whether the object exists (that is 412's job),
 * only that S3 could not decide yet. AWS's guidance: retry a PutObject, CopyObject or conditional
 * DeleteObject; a CompleteMultipartUpload that got 409 has lost its upload, so the upload is started again
 * with CreateMultipartUpload and every part re-sent.
 *
 * This is the one place cloudbridge waits and retries on it: bounded attempts with exponential backoff
 * and full jitter, so racing writers spread apart instead of colliding again.
 */
export function isConditionalConflict(error: unknown): boolean {
  // Named after S3's error code (other 409s, such as OperationAborted, are not this).
  return s3ErrorCode(error) === "ConditionalRequestConflict";
}

export interface ConflictRetryOptions {
  /** Attempts in all, the first included (8 by default). */
  attempts?: number;
  /** The first wait's upper bound; each later one doubles it (50 ms by default). */
  baseDelayMs?: number;
  signal?: AbortSignal;
}

/** Runs `write` again while S3 answers 409 ConditionalRequestConflict, up to `attempts` times in all. */
export async function retryOnConflict<T>(key: string, write: () => Promise<T>, options: ConflictRetryOptions = {}): Promise<T> {
  const attempts = options.attempts ?? 8;
  return retry(write, isConditionalConflict, {
    attempts,
    baseDelayMs: options.baseDelayMs ?? 50,
    ...(options.signal ? { signal: options.signal } : {}),
    giveUp: (error) => new WriteConflict(key, attempts, { cause: error }),
  });
}
