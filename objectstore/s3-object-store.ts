import { setMaxListeners } from "node:events";
import { createRequire } from "node:module";
import type { Readable } from "node:stream";
import type * as S3Sdk from "@aws-sdk/client-s3";
import type { S3Client, S3ClientConfig } from "@aws-sdk/client-s3";
import { setTimeout as sleep } from "node:timers/promises";
import {
  NoSuchUpload,
  ObjectStoreError,
  ObjectMissing,
  ObjectTooLarge,
  PreconditionFailed,
  type GetOptions,
  unquoteEtag,
  type ObjectInfo,
  type MultipartStore,
  type ObjectStore,
  type PartStream,
  type PutOptions,
  type UploadBody,
  type UploadOptions,
  WriteConflict,
} from "./object-store.ts";
import { isConditionalConflict, retryOnConflict } from "./conflict-retry.ts";
import { accessEndpoint } from "./aws-settings.ts";
import { backoffDelay } from "./retry.ts";
import { answeredByAws, s3ErrorCode, statusOf, type S3Requests } from "./s3-requests.ts";

let sdkModule: typeof S3Sdk | undefined;

/**
 * The AWS SDK's S3 module, loaded at its first use rather than with this file: a process on the light
 * client (s3-light-client.ts) never loads it (~110 ms of CPU and ~20 MiB at start-up). Its CommonJS build is
 * what `import` loads too, so classes and errors are the same either way. In a bundle (the Lambda
 * functions, bundled by esbuild with the SDK inside) `require` is the bundler's, which finds the bundled
 * copy; run from source, Node's ES modules have no `require`, and one is made for this file.
 */
export function s3Sdk(): typeof S3Sdk {
  if (sdkModule) return sdkModule;
  if (typeof require === "function") {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- the bundler follows a require() of a literal name, only that
    sdkModule = require("@aws-sdk/client-s3") as typeof S3Sdk;
  } else sdkModule = createRequire(import.meta.url)("@aws-sdk/client-s3") as typeof S3Sdk;
  return sdkModule;
}

/** How long connecting, and then a request with no byte moving either way, may take before it is retried. */
export const CONNECT_TIMEOUT_MS = 5_000;
export const IDLE_TIMEOUT_MS = 30_000;

/**
 * An S3 client configured the AWS SDK's standard way (credential chain, profiles, AWS_REGION,
 * AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL). With a custom endpoint (an emulator, MinIO, a bucket served on
 * an IP) requests are path-style, since such endpoints have no per-bucket host names.
 */
export function createS3Client(config: S3ClientConfig = {}): S3Client {
  const endpoint = config.endpoint ?? process.env.AWS_ENDPOINT_URL_S3 ?? process.env.AWS_ENDPOINT_URL;
  return new (s3Sdk().S3Client)({
    ...(endpoint ? { forcePathStyle: true } : {}),
    // The SDK's 3 attempts give up on one short blip (three 503s or resets in a row); AWS_MAX_ATTEMPTS wins.
    ...(process.env.AWS_MAX_ATTEMPTS ? {} : { maxAttempts: 6 }),
    // Without these the SDK waits forever on a connection the network left silent (no reset, no answer),
    // and so would every round after it. Idle time, not duration: a long transfer that moves is not cut.
    requestHandler: { connectionTimeout: CONNECT_TIMEOUT_MS, socketTimeout: IDLE_TIMEOUT_MS },
    ...config,
  });
}

/**
 * A part's body is not hashed into the signature (`UNSIGNED-PAYLOAD`, which S3 accepts with header
 * authentication): the SDK would hash every part with SHA-256 on this thread only to sign it, and S3 would
 * hash it again to check. The part's integrity on the wire is its CRC32 checksum, which the SDK sends and
 * S3 verifies; the content's is its key, verified by every machine that downloads it.
 */
function unsignedPayload(command: S3Sdk.UploadPartCommand): S3Sdk.UploadPartCommand {
  command.middlewareStack.add(
    (next) => (args) => {
      const request = args.request as { headers?: Record<string, string>; body?: unknown };
      if (request.headers && Buffer.isBuffer(request.body)) request.headers["x-amz-content-sha256"] = "UNSIGNED-PAYLOAD";
      return next(args);
    },
    { step: "build", name: "cloudbridgeUnsignedPayload" },
  );
  return command;
}

/** The SDK client's requests in the shape S3ObjectStore makes them (s3-requests.ts). */
export function sdkRequests(client: S3Client): S3Requests {
  const sdk = s3Sdk();
  // Closing cuts the requests in flight too: the client's own destroy closes the sockets, and the SDK retries
  // a request whose socket died on a new one, which a silent network holds for the idle timeout again
  // (a daemon asked to stop waited minutes so). An aborted request is not retried.
  const closing = new AbortController();
  // One listener per request in flight (the SDK removes it when the request ends): no limit to warn at.
  setMaxListeners(0, closing.signal);
  const sent = { abortSignal: closing.signal };
  return {
    getObject: async (input) => {
      const response = await client.send(new sdk.GetObjectCommand(input), sent);
      return { ...response, Body: response.Body as Readable };
    },
    headObject: (input) => client.send(new sdk.HeadObjectCommand(input), sent),
    // The length said outright: the SDK does not take an empty body's for one, and prints a warning of its
    // own on the person's terminal (init writes the empty `refs/` folder object).
    putObject: (input) => client.send(new sdk.PutObjectCommand({ ...input, ContentLength: Buffer.byteLength(input.Body) }), sent),
    listObjectsV2: (input) => client.send(new sdk.ListObjectsV2Command(input), sent),
    deleteObject: (input) => client.send(new sdk.DeleteObjectCommand(input), sent),
    sdkClient: () => client,
    closed: closing.signal,
    destroy: () => {
      closing.abort(new Error("the connection to the bucket was closed"));
      client.destroy();
    },
  };
}

/**
 * The bucket through the AWS SDK's S3 client, or through any client making the same requests
 * (`S3Requests`: the light client). Every answer is mapped here, once for both: 404 to undefined, 412 to
 * PreconditionFailed, a 409 ConditionalRequestConflict retried (conflict-retry.ts), a cut body read again.
 */
export class S3ObjectStore implements ObjectStore, MultipartStore {
  readonly bucket: string;
  readonly endpoint: string | undefined;
  private readonly requests: S3Requests;

  /** `endpoint`: the one `client` was made for; the environment's (as a client made without one uses) when not given. */
  constructor(bucket: string, client: S3Client | S3Requests = createS3Client(), endpoint: string | undefined = accessEndpoint({})) {
    this.bucket = bucket;
    this.endpoint = endpoint;
    this.requests = "sdkClient" in client ? client : sdkRequests(client);
  }

  /**
   * The SDK's client, for multipart uploads only; over the light client, made at its first use. Private, and
   * a method: a caller closing the store through it (`store.client.destroy()`) made the SDK's client, loading
   * its module, only to close it. A store is closed by `destroy()`, the one way there is.
   */
  private multipartClient(): S3Client {
    return this.requests.sdkClient();
  }

  /** Closes the connections (and the SDK's client, when one was made): the one way to close a store. */
  destroy(): void {
    this.requests.destroy();
  }

  /**
   * What a multipart request is sent with: aborted when the store is closed (a daemon stopping cuts an upload
   * waiting on a silent network, as it cuts any other request: the SDK would retry it on a new socket, held
   * by the idle timeout again, minutes in all), or by the caller's `signal`. The upload's record stays
   * (annex/transfer/upload.ts): the next start resumes it.
   */
  private sent(signal?: AbortSignal): { abortSignal: AbortSignal } {
    return { abortSignal: signal ? AbortSignal.any([this.requests.closed, signal]) : this.requests.closed };
  }

  async get(key: string, options: GetOptions = {}) {
    for (let attempt = 1; ; attempt++) {
      let response;
      try {
        response = await this.requests.getObject({
          Bucket: this.bucket,
          Key: key,
          ...(options.ifNoneMatch ? { IfNoneMatch: `"${options.ifNoneMatch}"` } : {}),
        });
      } catch (error) {
        if (isNotFound(error) || (await this.deniedBecauseMissing(error, key))) return undefined;
        if (statusOf(error) === 304) return "not-modified" as const;
        throw error;
      }
      try {
        const body = await readBody(response.Body, key, options.maxBytes, response.ContentLength);
        return { ...objectInfo(key, response), body, size: body.length };
      } catch (error) {
        if (error instanceof ObjectTooLarge) throw error;
        // A body cut off mid-way (a dropped connection) is not retried by the SDK, whose response had
        // already begun: this whole-object read is, a few times.
        if (attempt >= BODY_READ_ATTEMPTS) throw error;
        await sleep(backoffDelay(attempt + 1));
      }
    }
  }

  async getStream(key: string, options: { range?: { start: number; end: number } } = {}) {
    try {
      const response = await this.requests.getObject({
        Bucket: this.bucket,
        Key: key,
        ...(options.range ? { Range: `bytes=${options.range.start}-${options.range.end}` } : {}),
      });
      // The caller may open its file before it reads: a small body cut off meanwhile (the whole of it is
      // already in the socket's buffer, so the cut is seen at once) makes the SDK's checksum stream emit
      // its error with nobody listening, which ends the process. Listened to here, the error waits in the
      // stream for the read, which fails with it (and is retried as any cut body is).
      response.Body.on("error", () => undefined);
      return { ...objectInfo(key, response), stream: response.Body };
    } catch (error) {
      if (isNotFound(error) || (await this.deniedBecauseMissing(error, key))) return undefined;
      throw error;
    }
  }

  async head(key: string): Promise<ObjectInfo | undefined> {
    try {
      return objectInfo(key, await this.requests.headObject({ Bucket: this.bucket, Key: key }));
    } catch (error) {
      if (isNotFound(error, { bodiless: true }) || (await this.deniedBecauseMissing(error, key))) return undefined;
      throw error;
    }
  }

  /**
   * S3 answers 403, not 404, for a missing key when the caller may not s3:ListBucket the whole bucket (an
   * agent may list only its own prefixes). Listing exactly that key tells the two apart: a key the caller
   * may list and that is not there is missing; a refused listing leaves the 403 standing.
   */
  private async deniedBecauseMissing(error: unknown, key: string): Promise<boolean> {
    if (statusOf(error) !== 403) return false;
    try {
      const page = await this.requests.listObjectsV2({ Bucket: this.bucket, Prefix: key, MaxKeys: 1 });
      return !(page.Contents ?? []).some((object) => object.Key === key);
    } catch {
      return false;
    }
  }

  async put(key: string, body: Buffer | string, options: PutOptions = {}) {
    try {
      const response = await retryOnConflict(key, () =>
        this.requests.putObject({ Bucket: this.bucket, Key: key, Body: body, ...writeParams(options) }),
      );
      return { etag: unquoteEtag(response.ETag) };
    } catch (error) {
      throw conditionError(error, key, options);
    }
  }

  async upload(key: string, body: UploadBody, options: UploadOptions = {}) {
    // A 409 on a conditional upload means S3 decided nothing and the multipart upload is gone: the whole
    // upload starts again, which needs a body that can be read again (a Buffer, or a function opening a stream).
    const replayable = typeof body === "function" || Buffer.isBuffer(body);
    // Loaded on the first upload only: it costs every process that never makes one (the remote helper,
    // every CLI command) a third of the S3 client's start-up again.
    const { Upload } = await import("@aws-sdk/lib-storage");
    const once = async () => {
      // Ended by the caller's signal or by closing the store (`sent`): done() then gives up at once, and
      // the requests it has in flight end too (`sendingWith`: lib-storage sends them with no signal).
      const { controller, release } = abortControllerFor(this.sent(options.signal).abortSignal);
      const upload = new Upload({
        client: sendingWith(this.multipartClient(), controller.signal),
        params: { Bucket: this.bucket, Key: key, Body: typeof body === "function" ? body() : body, ...writeParams(options) },
        partSize: options.partSize ?? 8 * 1024 * 1024,
        queueSize: options.queueSize ?? 4,
        leavePartsOnError: false,
        abortController: controller,
      });
      if (options.onProgress) upload.on("httpUploadProgress", (p) => options.onProgress!(p.loaded ?? 0));
      return upload.done().finally(release);
    };
    try {
      const result = replayable
        ? await retryOnConflict(key, once, options.signal ? { signal: options.signal } : {})
        : await once().catch((error: unknown) => {
            throw isConditionalConflict(error) ? new WriteConflict(key, 1, { cause: error }) : error;
          });
      return { etag: unquoteEtag(result.ETag) };
    } catch (error) {
      throw conditionError(error, key, options);
    }
  }

  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    let ContinuationToken: string | undefined;
    do {
      const page = await this.requests.listObjectsV2({
        Bucket: this.bucket,
        Prefix: prefix,
        ...(ContinuationToken ? { ContinuationToken } : {}),
      });
      for (const object of page.Contents ?? []) {
        yield {
          key: object.Key!,
          etag: unquoteEtag(object.ETag),
          size: object.Size ?? 0,
          lastModified: object.LastModified ?? new Date(0),
        };
      }
      ContinuationToken = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (ContinuationToken);
  }

  async listPrefixes(prefix: string): Promise<string[]> {
    const prefixes: string[] = [];
    let ContinuationToken: string | undefined;
    do {
      const page = await this.requests.listObjectsV2({
        Bucket: this.bucket,
        Prefix: prefix,
        Delimiter: "/",
        ...(ContinuationToken ? { ContinuationToken } : {}),
      });
      prefixes.push(...(page.CommonPrefixes ?? []).map((p) => p.Prefix!));
      ContinuationToken = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (ContinuationToken);
    return prefixes;
  }

  async createMultipartUpload(key: string, options: Pick<PutOptions, "contentType" | "metadata"> = {}): Promise<string> {
    const response = await this.multipartClient().send(
      new (s3Sdk().CreateMultipartUploadCommand)({ Bucket: this.bucket, Key: key, ...writeParams(options) }),
      this.sent(),
    );
    if (!response.UploadId) {
      throw new ObjectStoreError("incomplete-response", key, `The store started a multipart upload for ${key} but returned no upload id.`);
    }
    return response.UploadId;
  }

  async uploadPart(key: string, uploadId: string, partNumber: number, body: Buffer | PartStream, signal?: AbortSignal): Promise<string> {
    const payload = Buffer.isBuffer(body) ? { Body: body } : { Body: body.stream, ContentLength: body.length };
    const command = unsignedPayload(
      new (s3Sdk().UploadPartCommand)({ Bucket: this.bucket, Key: key, UploadId: uploadId, PartNumber: partNumber, ...payload }),
    );
    try {
      const response = await this.multipartClient().send(command, this.sent(signal));
      return unquoteEtag(response.ETag);
    } catch (error) {
      throw uploadError(error, key);
    }
  }

  async completeMultipartUpload(
    key: string,
    uploadId: string,
    parts: ReadonlyArray<{ partNumber: number; etag: string }>,
    options: { ifNoneMatch?: "*" } = {},
  ): Promise<{ etag: string }> {
    try {
      const response = await this.multipartClient().send(
        new (s3Sdk().CompleteMultipartUploadCommand)({
          Bucket: this.bucket,
          Key: key,
          UploadId: uploadId,
          MultipartUpload: { Parts: parts.map((p) => ({ PartNumber: p.partNumber, ETag: `"${p.etag}"` })) },
          ...(options.ifNoneMatch ? { IfNoneMatch: options.ifNoneMatch } : {}),
        }),
        this.sent(),
      );
      return { etag: unquoteEtag(response.ETag) };
    } catch (error) {
      // AWS: a Complete answered 409 lost its upload; the caller starts a new one and sends the parts again.
      if (isConditionalConflict(error)) throw new NoSuchUpload(key);
      throw uploadError(conditionError(error, key, options), key);
    }
  }

  async abortMultipartUpload(key: string, uploadId: string): Promise<void> {
    try {
      await this.multipartClient().send(
        new (s3Sdk().AbortMultipartUploadCommand)({ Bucket: this.bucket, Key: key, UploadId: uploadId }),
        this.sent(),
      );
    } catch (error) {
      const mapped = uploadError(error, key);
      if (!(mapped instanceof NoSuchUpload)) throw mapped;
    }
  }

  async delete(key: string, options: { ifMatch?: string } = {}) {
    try {
      await retryOnConflict(key, () =>
        this.requests.deleteObject({ Bucket: this.bucket, Key: key, ...(options.ifMatch ? { IfMatch: `"${options.ifMatch}"` } : {}) }),
      );
    } catch (error) {
      throw conditionError(error, key, options);
    }
  }
}

/**
 * A GetObject body, whole. Under `maxBytes` the declared length is checked before anything is read and
 * the bytes are counted as they come (a length can lie): past the limit the body is dropped unread.
 */
async function readBody(body: Readable, key: string, maxBytes: number | undefined, length: number | undefined): Promise<Buffer> {
  if (maxBytes !== undefined && length !== undefined && length > maxBytes) {
    body.destroy();
    throw new ObjectTooLarge(key, length, maxBytes);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (maxBytes !== undefined && size > maxBytes) {
      body.destroy();
      throw new ObjectTooLarge(key, size, maxBytes);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, size);
}

const BODY_READ_ATTEMPTS = 4;

/** What GetObject and HeadObject responses say about an object. */
function objectInfo(
  key: string,
  response: { ETag?: string; ContentLength?: number; LastModified?: Date; Metadata?: Record<string, string> },
): ObjectInfo {
  return {
    key,
    etag: unquoteEtag(response.ETag),
    size: response.ContentLength ?? 0,
    lastModified: response.LastModified ?? new Date(0),
    metadata: response.Metadata ?? {},
  };
}

function writeParams(options: PutOptions) {
  return {
    ...(options.ifMatch ? { IfMatch: `"${options.ifMatch}"` } : {}),
    ...(options.ifNoneMatch ? { IfNoneMatch: options.ifNoneMatch } : {}),
    ...(options.contentType ? { ContentType: options.contentType } : {}),
    ...(options.metadata ? { Metadata: options.metadata } : {}),
  };
}

/**
 * S3's 404: a 404 from something else at the endpoint (a web server's page) says nothing of the key. S3 answers a
 * GET's 404 with its error document; a HEAD's answer has no body, and one without S3's request ids may still be
 * an S3-compatible service's, taken as S3's as before.
 */
function isNotFound(error: unknown, answer: { bodiless?: boolean } = {}): boolean {
  return statusOf(error) === 404 && (answer.bodiless === true || answeredByAws(error) !== false);
}

function conditionError(error: unknown, key: string, options: { ifMatch?: string; ifNoneMatch?: string }): unknown {
  const status = statusOf(error);
  const condition = options.ifNoneMatch ? "If-None-Match" : "If-Match";
  // Only 412 says the condition did not hold; a 409 (a racing conditional write) is retried, never read as it.
  if (status === 412) return new PreconditionFailed(key, condition);
  if (status === 404 && options.ifMatch) return new ObjectMissing(key);
  return error;
}

function uploadError(error: unknown, key: string): unknown {
  // The AWS SDK names a service error after S3's error code; UploadPart and CompleteMultipartUpload do not
  // model NoSuchUpload as a class of their own, so the code is all there is to go by.
  if (s3ErrorCode(error) === "NoSuchUpload") return new NoSuchUpload(key);
  return error;
}

/**
 * `client`, its every request sent with `signal`: lib-storage's Upload sends its parts without one, so an
 * aborted upload's parts went on, retried by the SDK on new sockets (minutes on a silent network, the
 * process held alive meanwhile).
 */
function sendingWith(client: S3Client, signal: AbortSignal): S3Client {
  const send = (command: Parameters<S3Client["send"]>[0], options?: { abortSignal?: AbortSignal }) =>
    client.send(command, { ...options, abortSignal: options?.abortSignal ? AbortSignal.any([signal, options.abortSignal]) : signal });
  return Object.create(client, { send: { value: send } }) as S3Client;
}

/** A controller aborted with `signal`; `release` stops following it (the store's `closed` signal outlives every upload). */
function abortControllerFor(signal: AbortSignal): { controller: AbortController; release: () => void } {
  const controller = new AbortController();
  const follow = () => controller.abort(signal.reason);
  if (signal.aborted) follow();
  else signal.addEventListener("abort", follow, { once: true });
  return { controller, release: () => signal.removeEventListener("abort", follow) };
}

/**
 * Whether the store honours conditional writes (probed at `init`: docs/architecture.md, "Concurrency"). Creates a probe key with
 * If-None-Match twice; a store that lets the second write through does not. The probe is removed after.
 */
export async function probeConditionalWrites(store: ObjectStore, probeKey: string): Promise<boolean> {
  await store.delete(probeKey).catch(() => undefined);
  try {
    await store.put(probeKey, "probe", { ifNoneMatch: "*" });
    await store.put(probeKey, "probe", { ifNoneMatch: "*" });
    return false;
  } catch (error) {
    // A refusal of the first write counts too: the key is this process's own and was just removed, so only
    // our own first attempt (its answer lost, the SDK retried it) can have created it, and it was refused.
    if (error instanceof PreconditionFailed) return true;
    throw error;
  } finally {
    await store.delete(probeKey).catch(() => undefined);
  }
}
