import type { Readable } from "node:stream";
import type { S3Client } from "@aws-sdk/client-s3";

/**
 * The S3 requests a store makes for everything but multipart uploads, in the AWS SDK's own shapes, so one
 * store (S3ObjectStore: error mapping, conditional writes, retries of 409s and cut bodies) runs over
 * either client: the SDK's (s3-object-store.ts, `sdkRequests`) or the light one (s3-light-client.ts) that
 * processes where start-up matters (the remote helper) use. Multipart uploads always go through the SDK
 * (`sdkClient`, which a light client creates with the same settings at its first use).
 */
export interface S3Requests {
  getObject(input: { Bucket: string; Key: string; IfNoneMatch?: string; Range?: string }): Promise<ObjectResponse & { Body: Readable }>;
  headObject(input: { Bucket: string; Key: string }): Promise<ObjectResponse>;
  putObject(input: {
    Bucket: string;
    Key: string;
    Body: Buffer | string;
    IfMatch?: string;
    IfNoneMatch?: string;
    ContentType?: string;
    Metadata?: Record<string, string>;
  }): Promise<{ ETag?: string | undefined }>;
  listObjectsV2(input: {
    Bucket: string;
    Prefix: string;
    Delimiter?: string;
    ContinuationToken?: string;
    MaxKeys?: number;
  }): Promise<ListPage>;
  deleteObject(input: { Bucket: string; Key: string; IfMatch?: string }): Promise<unknown>;
  /** The AWS SDK's client with the same region, endpoint and credentials, for multipart uploads. */
  sdkClient(): S3Client;
  /**
   * Aborted by `destroy`. Requests made through `sdkClient` carry it (the store adds it to each), so closing
   * cuts a multipart upload's requests in flight as it cuts the others, and none is retried on a new socket.
   */
  readonly closed: AbortSignal;
  /** Closes the connections and aborts every request in flight (`closed`). */
  destroy(): void;
}

export interface ObjectResponse {
  ETag?: string | undefined;
  ContentLength?: number | undefined;
  LastModified?: Date | undefined;
  Metadata?: Record<string, string> | undefined;
}

export interface ListPage {
  Contents?:
    { Key?: string | undefined; ETag?: string | undefined; Size?: number | undefined; LastModified?: Date | undefined }[] | undefined;
  CommonPrefixes?: { Prefix?: string | undefined }[] | undefined;
  IsTruncated?: boolean | undefined;
  NextContinuationToken?: string | undefined;
}

/**
 * An S3 error answer, as both clients throw it: S3's error code as `name` (NoSuchKey, PreconditionFailed,
 * ConditionalRequestConflict…; for a HEAD, which has no body, the status's name such as NotFound) and the
 * HTTP status in `$metadata`. The SDK's S3ServiceException has this shape; these helpers read the shape,
 * not the class, so that a caller never needs the SDK loaded to tell what went wrong.
 */
interface S3ErrorShape {
  name: string;
  $metadata: { httpStatusCode?: number };
  /** The answer, as the SDK keeps it on an error (not enumerable); the light client does the same. */
  $response?: { headers?: Record<string, string | undefined> };
  /** S3's error code as its error document (the answer's XML body) gave it: absent for an answer without one. */
  Code?: string;
}

function isS3Error(error: unknown): error is S3ErrorShape {
  return error instanceof Error && typeof (error as Partial<S3ErrorShape>).$metadata === "object";
}

/** The HTTP status of an S3 error answer, or undefined for anything else (a network error, our own errors). */
export function statusOf(error: unknown): number | undefined {
  return isS3Error(error) ? error.$metadata.httpStatusCode : undefined;
}

/** S3's error code of an S3 error answer (`ConditionalRequestConflict`, `NoSuchUpload`…), or undefined. */
export function s3ErrorCode(error: unknown): string | undefined {
  return isS3Error(error) ? error.name : undefined;
}

/**
 * Whether an error answer is S3's (or a service speaking its protocol): it bears the marks S3 puts on every
 * answer, errors and HEADs included, `x-amz-request-id` and `x-amz-id-2` (and `Server: AmazonS3` from AWS
 * itself; S3 API reference, "Common response headers"), or its body is S3's error document (`Code`: an
 * S3-compatible service that sends no request ids still answers in S3's XML). AWS's other services send
 * `x-amzn-requestid` (an SQS or Secrets Manager answer is AWS's, not another web server's). A web server, a
 * proxy's error page or another program on the port sends none of them. Undefined when the answer's headers
 * are not known (not an answer, or an error made without them). An answer without a body (a HEAD's) and
 * without the marks cannot be told apart from a compatible service's: callers that would treat it as
 * missing (a 404) should keep doing so.
 */
export function answeredByAws(error: unknown): boolean | undefined {
  const headers = isS3Error(error) ? error.$response?.headers : undefined;
  if (headers === undefined) return undefined;
  return (
    headers["x-amz-request-id"] !== undefined ||
    headers["x-amz-id-2"] !== undefined ||
    headers["x-amzn-requestid"] !== undefined ||
    headers["x-amzn-request-id"] !== undefined ||
    /^AmazonS3$/i.test(headers.server ?? "") ||
    typeof (error as S3ErrorShape).Code === "string"
  );
}
