import type { Readable } from "node:stream";
import { CloudbridgeError } from "../protocol/core.ts";

/**
 * The narrow interface everything that reads or writes the bucket goes through (git over S3, annexed
 * content, presence records, the functions). One implementation talks to S3 (`s3-object-store.ts`); tests
 * may wrap it to inject faults. Keys are full keys, built by protocol/layout.ts.
 *
 * Conditional writes are the concurrency model (docs/architecture.md, "Concurrency"): `ifNoneMatch: "*"`
 * creates only, `ifMatch: etag` replaces only that version; a failed condition throws PreconditionFailed.
 */
export interface ObjectStore {
  readonly bucket: string;
  /**
   * The S3-compatible endpoint the bucket is reached at (cloudbridge.endpoint, AWS_ENDPOINT_URL), undefined
   * for S3's own: two buckets of one name at two endpoints are two buckets, and what this machine remembers
   * of one (gitstore's refs index) is never taken for the other's.
   */
  readonly endpoint: string | undefined;
  /**
   * The whole object, or undefined when there is none. With `ifNoneMatch`, "not-modified" when unchanged.
   * With `maxBytes`, an object larger than that throws ObjectTooLarge without its body being read (every
   * small object read from the bucket — refs, lists — is read with a bound: anyone who can write can make it huge).
   */
  get(key: string, options?: GetOptions): Promise<StoredObject | undefined | "not-modified">;
  /** A stream of the object (or of bytes `range.start`..`range.end` inclusive), for large content. */
  getStream(key: string, options?: { range?: { start: number; end: number } }): Promise<ObjectStream | undefined>;
  head(key: string): Promise<ObjectInfo | undefined>;
  put(key: string, body: Buffer | string, options?: PutOptions): Promise<{ etag: string }>;
  /**
   * Streams `body` up, in parts above `partSize`; no object is visible under `key` until it is complete.
   * Give a function that opens the stream, so a conditional upload S3 answers 409 can start again.
   */
  upload(key: string, body: UploadBody, options?: UploadOptions): Promise<{ etag: string }>;
  /** Every object under `prefix` (which should end in "/"), in key order, page by page. */
  list(prefix: string): AsyncIterable<ObjectInfo>;
  /** The "directories" directly under `prefix` (S3 CommonPrefixes with delimiter "/"). */
  listPrefixes(prefix: string): Promise<string[]>;
  delete(key: string, options?: { ifMatch?: string }): Promise<void>;
}

export interface GetOptions {
  ifNoneMatch?: string;
  maxBytes?: number;
}

export interface ObjectInfo {
  readonly key: string;
  /** Without quotes. */
  readonly etag: string;
  readonly size: number;
  readonly lastModified: Date;
  readonly metadata?: Readonly<Record<string, string>>;
}

export interface StoredObject extends ObjectInfo {
  readonly body: Buffer;
}

export interface ObjectStream extends ObjectInfo {
  readonly stream: Readable;
}

export interface PutOptions {
  ifMatch?: string;
  ifNoneMatch?: "*";
  contentType?: string;
  /** User metadata (x-amz-meta-*): shown in the S3 console, helps a person understand an object. */
  metadata?: Record<string, string>;
}

/** What `upload` sends: bytes, a stream (sent once), or a function that opens the stream afresh for each attempt. */
export type UploadBody = Readable | Buffer | (() => Readable);

export interface UploadOptions extends PutOptions {
  partSize?: number;
  /** Parts in flight at once. */
  queueSize?: number;
  onProgress?: (bytesSent: number) => void;
  signal?: AbortSignal;
}

/**
 * What went wrong in a request to the bucket that a caller can act on. `code` says which: a condition that
 * did not hold (someone else wrote first: read again and retry), a write S3 kept answering 409
 * ConditionalRequestConflict (nothing decided: try again later), an object that is not there, a multipart
 * upload that no longer exists (start it again), or a store that answered without what it must return.
 */
export type ObjectStoreErrorCode =
  | "precondition-failed"
  | "write-conflict"
  | "object-missing"
  | "no-such-upload"
  | "incomplete-response"
  | "object-too-large"
  | "undecryptable-object"
  | "missing-repository-key"
  | "invalid-keyring";

export class ObjectStoreError extends CloudbridgeError<ObjectStoreErrorCode> {
  readonly key: string;
  constructor(code: ObjectStoreErrorCode, key: string, message: string) {
    super(code, message);
    this.key = key;
  }
}

/** An object read with a byte limit was larger than the limit; its body was not read. */
export class ObjectTooLarge extends ObjectStoreError {
  readonly size: number;
  readonly limit: number;
  constructor(key: string, size: number, limit: number) {
    super(
      "object-too-large",
      key,
      `The object ${key} holds ${size} bytes or more, over the ${limit} bytes such an object may hold; it was not read.`,
    );
    this.size = size;
    this.limit = limit;
  }
}

/** A conditional write's condition did not hold (HTTP 412). A 409 is retried (conflict-retry.ts), never this. */
export class PreconditionFailed extends ObjectStoreError {
  constructor(key: string, condition: string) {
    super("precondition-failed", key, `The object ${key} changed under us (${condition} did not hold).`);
  }
}

/** S3 kept answering 409 ConditionalRequestConflict to a write: nothing was decided, so it may be tried again later. */
export class WriteConflict extends ObjectStoreError {
  constructor(key: string, attempts: number, options?: ErrorOptions) {
    super(
      "write-conflict",
      key,
      `S3 kept answering 409 ConditionalRequestConflict to the write of ${key} (${attempts} attempts): another writer keeps racing it. Nothing was decided; try again.`,
    );
    if (options?.cause !== undefined) this.cause = options.cause;
  }
}

/** `If-Match` named an object that does not exist. */
export class ObjectMissing extends ObjectStoreError {
  constructor(key: string) {
    super("object-missing", key, `The object ${key} does not exist.`);
  }
}

export function unquoteEtag(etag: string | undefined): string {
  return (etag ?? "").replaceAll('"', "");
}

/**
 * Multipart uploads driven part by part, so a caller can persist the upload id and the parts it sent and
 * resume after its process was killed (lib-storage's Upload restarts from zero). Nothing is visible under
 * the key until `completeMultipartUpload`.
 */
/** A part's bytes as a stream of a known length (S3 needs a part's Content-Length before its bytes). */
export interface PartStream {
  readonly stream: Readable;
  readonly length: number;
}

export interface MultipartStore {
  /** `size` and `partSize` (the object's and each part's, the last excepted) let a store that transforms parts place them. */
  createMultipartUpload(
    key: string,
    options?: Pick<PutOptions, "contentType" | "metadata"> & { size?: number; partSize?: number },
  ): Promise<string>;
  /**
   * Returns the part's ETag (for an unencrypted part, the MD5 hex of its bytes). A `PartStream` body is sent
   * as it is read (a store that transforms parts passes one on, so no transformed copy of a part is held whole).
   */
  uploadPart(key: string, uploadId: string, partNumber: number, body: Buffer | PartStream, signal?: AbortSignal): Promise<string>;
  /** The ETag `uploadPart` would get for these bytes, when it is not their MD5 (an encrypting store), so a resumed upload can keep its parts. */
  expectedPartEtag?(key: string, uploadId: string, partNumber: number, body: Buffer): string;
  /** Throws NoSuchUpload when the upload was aborted, completed or expired; PreconditionFailed under `ifNoneMatch`. */
  completeMultipartUpload(
    key: string,
    uploadId: string,
    parts: ReadonlyArray<{ partNumber: number; etag: string }>,
    options?: { ifNoneMatch?: "*" },
  ): Promise<{ etag: string }>;
  abortMultipartUpload(key: string, uploadId: string): Promise<void>;
}

/** The multipart upload named by an upload id no longer exists. */
export class NoSuchUpload extends ObjectStoreError {
  constructor(key: string) {
    super("no-such-upload", key, `The multipart upload for ${key} no longer exists (aborted, completed or expired).`);
  }
}
