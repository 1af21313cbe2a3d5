import type { MultipartStore, ObjectStore } from "../../objectstore/index.ts";
import type { BucketLayout } from "../../protocol/index.ts";
import type { RateLimiter } from "./rate-limit.ts";

/** Where annexed content lives in the bucket: `annex/<repo>/<KEY>` (git-annex's S3 layout with fileprefix). */
export interface CloudContent {
  readonly store: ObjectStore & MultipartStore;
  readonly layout: BucketLayout;
  readonly repo: string;
}

export interface TransferOptions {
  /** The work-tree name, for the object's metadata in the S3 console. */
  fileName?: string;
  onProgress?: (bytesDone: number, bytesTotal: number) => void;
  signal?: AbortSignal;
  /** The bandwidth limit this transfer shares with the others in its direction. */
  limiter?: RateLimiter;
  /** At or above this size: multipart upload / ranged parallel download (default 16 MiB). */
  multipartThreshold?: number;
  /** Upload part size (default 5 MiB, S3's minimum) and ranged-GET size (default 8 MiB). */
  partSize?: number;
  /** Parts or ranges in flight at once (default 4). Memory is about partSize × concurrency. */
  concurrency?: number;
  /**
   * A large download also writes its bytes into a spare copy as they arrive, for the file put in the work
   * tree afterwards (`LocalStore.copyTo` takes it instead of copying from the store); whoever asks drops
   * what it did not use (`LocalStore.dropSpare`).
   */
  spare?: boolean;
}

export const DEFAULT_MULTIPART_THRESHOLD = 16 * 1024 * 1024;
/** Upload parts are held in memory while in flight (5 MiB × 4 = 20 MiB); downloaded ranges are streamed, so they can be larger. */
export const DEFAULT_PART_SIZE = 5 * 1024 * 1024;
export const DEFAULT_RANGE_SIZE = 8 * 1024 * 1024;
export const DEFAULT_CONCURRENCY = 4;

/** Parts of at least `partSize`, and few enough for S3's 10,000-part limit. */
export function partSizeFor(size: number, partSize: number): number {
  // Whole MiB, so a part is always whole chunks of an encrypted object (objectstore/encryption).
  return Math.max(partSize, Math.ceil(size / 10_000 / 1_048_576) * 1_048_576);
}
