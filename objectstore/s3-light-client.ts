import { setMaxListeners } from "node:events";
import type * as Http from "node:http";
import { pipeline, Transform, type Readable } from "node:stream";
import { createHash } from "node:crypto";
import type { S3Client } from "@aws-sdk/client-s3";
import type { S3Settings } from "./aws-settings.ts";
import { retry } from "./retry.ts";
import { CONNECT_TIMEOUT_MS, createS3Client, IDLE_TIMEOUT_MS } from "./s3-object-store.ts";
import type { ListPage, ObjectResponse, S3Requests } from "./s3-requests.ts";
import { EMPTY_PAYLOAD_HASH, encodeKeyPath, sha256Hex, signRequest, uriEscape } from "./sigv4.ts";

/**
 * Node's zlib, loaded at its first use rather than with this module: ~1.6 ms of CPU off the start of a
 * short-lived process (the remote helper, whose first use comes while git makes its pack).
 */
const zlib = () => process.getBuiltinModule("node:zlib");

/**
 * S3's object requests (GET, HEAD, PUT, LIST, DELETE) over Node's http with SigV4, for processes whose
 * start-up is most of their life: the remote helper of a `git push` spends ~110 ms of CPU loading the AWS
 * SDK's S3 client and making its first request, three times what the push itself takes
 * (docs/performance.md, "Start-up"). It behaves as the SDK client createS3Client makes: the same settings
 * (aws-settings.ts decides when it may be used at all), attempts per request (6 by default, AWS_MAX_ATTEMPTS)
 * on the SDK's retryable errors, the SDK's clock-skew correction (signing at S3's time, from its Date header),
 * the same connect and idle timeouts, CRC32 checksums on writes and checked
 * on reads, and errors of the SDK's shape (s3-requests.ts) so S3ObjectStore maps them once for both.
 * Multipart uploads are the SDK's (`sdkClient`).
 */
export class LightS3Client implements S3Requests {
  private readonly settings: S3Settings;
  private readonly http: typeof Http;
  private readonly agent: Http.Agent;
  private sdk: S3Client | undefined;
  private readonly closing = new AbortController();
  /** Aborted by `destroy`: this client's requests and the multipart ones made through `sdkClient` (S3Requests). */
  readonly closed = this.closing.signal;
  /**
   * How far S3's clock is ahead of this machine's (ms), as its last answer's Date header said: requests are
   * signed at this machine's time plus it. AWS refuses a request signed more than 15 minutes away from its
   * own time (403 RequestTimeTooSkewed); the SDK keeps the same offset (systemClockOffset) the same way.
   */
  private clockOffsetMs = 0;

  constructor(settings: S3Settings) {
    this.settings = settings;
    // Not an `import`: an ES import of node:http also evaluates its lazy exports, which loads Node's fetch
    // implementation (undici), ~35 ms of CPU for nothing here (docs/performance.md).
    this.http = process.getBuiltinModule(settings.endpoint.protocol === "https:" ? "node:https" : "node:http") as typeof Http;
    this.agent = new this.http.Agent({ keepAlive: true, maxSockets: 50 });
    // One listener per request in flight (removed when it ends): no limit to warn at.
    setMaxListeners(0, this.closed);
  }

  async getObject(input: { Bucket: string; Key: string; IfNoneMatch?: string; Range?: string }) {
    // The body is the caller's to read (and read again when it is cut: S3ObjectStore.get).
    const response = await this.request("GET", input.Bucket, input.Key, {
      headers: {
        "x-amz-checksum-mode": "ENABLED",
        ...(input.IfNoneMatch ? { "if-none-match": input.IfNoneMatch } : {}),
        ...(input.Range ? { range: input.Range } : {}),
      },
    });
    return { ...objectResponse(response), Body: checked(response) };
  }

  async headObject(input: { Bucket: string; Key: string }): Promise<ObjectResponse> {
    return objectResponse(await this.request("HEAD", input.Bucket, input.Key, {}, drained));
  }

  async putObject(input: Parameters<S3Requests["putObject"]>[0]) {
    const body = Buffer.isBuffer(input.Body) ? input.Body : Buffer.from(input.Body);
    const checksum = Buffer.alloc(4);
    checksum.writeUInt32BE(zlib().crc32(body));
    const headers: Record<string, string> = {
      "content-type": input.ContentType ?? "application/octet-stream",
      "content-length": String(body.length),
      "x-amz-checksum-crc32": checksum.toString("base64"),
      ...(input.IfMatch ? { "if-match": input.IfMatch } : {}),
      ...(input.IfNoneMatch ? { "if-none-match": input.IfNoneMatch } : {}),
    };
    for (const [name, value] of Object.entries(input.Metadata ?? {})) headers[`x-amz-meta-${name.toLowerCase()}`] = value;
    const response = await this.request("PUT", input.Bucket, input.Key, { headers, body }, drained);
    return { ETag: header(response, "etag") };
  }

  async listObjectsV2(input: Parameters<S3Requests["listObjectsV2"]>[0]): Promise<ListPage> {
    const query: [string, string][] = [
      ["list-type", "2"],
      ["prefix", input.Prefix],
    ];
    if (input.Delimiter) query.push(["delimiter", input.Delimiter]);
    if (input.ContinuationToken) query.push(["continuation-token", input.ContinuationToken]);
    if (input.MaxKeys !== undefined) query.push(["max-keys", String(input.MaxKeys)]);
    const xml = await this.request("GET", input.Bucket, undefined, { query }, text);
    return {
      Contents: elements(xml, "Contents").map((entry) => ({
        Key: element(entry, "Key"),
        ETag: element(entry, "ETag"),
        Size: Number(element(entry, "Size") ?? 0),
        LastModified: new Date(element(entry, "LastModified") ?? 0),
      })),
      CommonPrefixes: elements(xml, "CommonPrefixes").map((entry) => ({ Prefix: element(entry, "Prefix") })),
      IsTruncated: element(xml, "IsTruncated") === "true",
      NextContinuationToken: element(xml, "NextContinuationToken"),
    };
  }

  async deleteObject(input: { Bucket: string; Key: string; IfMatch?: string }): Promise<void> {
    await this.request("DELETE", input.Bucket, input.Key, { headers: input.IfMatch ? { "if-match": input.IfMatch } : {} }, drained);
  }

  sdkClient(): S3Client {
    const { region, key, endpoint, configuredEndpoint } = this.settings;
    // A configured endpoint is given as one; S3's regional endpoint the SDK finds itself, as it would have.
    const custom = configuredEndpoint ? { endpoint: endpoint.href.replace(/\/$/, "") } : {};
    return (this.sdk ??= createS3Client({ region, credentials: key, ...custom }));
  }

  destroy(): void {
    // First: a request whose socket the agent closes is not then tried again on a new one.
    this.closing.abort(new Error("the connection to the bucket was closed"));
    this.agent.destroy();
    this.sdk?.destroy();
  }

  /**
   * One request, signed, sent up to `maxAttempts` times on what the SDK retries; an answer that is no 2xx
   * is thrown as an S3 error. `read` takes the body within the attempt (as the SDK reads a body it parses:
   * a body cut mid-way is one more failed attempt); without it the body is the caller's.
   */
  private request(
    method: string,
    bucket: string,
    key: string | undefined,
    options?: { headers?: Record<string, string>; query?: [string, string][]; body?: Buffer },
  ): Promise<Http.IncomingMessage>;
  private request<T>(
    method: string,
    bucket: string,
    key: string | undefined,
    options: { headers?: Record<string, string>; query?: [string, string][]; body?: Buffer },
    read: (response: Http.IncomingMessage) => Promise<T>,
  ): Promise<T>;
  private request(
    method: string,
    bucket: string,
    key: string | undefined,
    options: { headers?: Record<string, string>; query?: [string, string][]; body?: Buffer } = {},
    read: (response: Http.IncomingMessage) => Promise<unknown> = async (response) => response,
  ): Promise<unknown> {
    const { endpoint, pathStyle } = this.settings;
    const base = endpoint.pathname.replace(/\/$/, "");
    const path = `${base}${pathStyle ? `/${uriEscape(bucket)}` : ""}/${key === undefined ? "" : encodeKeyPath(key)}`;
    const query = options.query ?? [];
    const search = query.map(([name, value]) => `${uriEscape(name)}=${uriEscape(value)}`).join("&");
    const payloadHash = options.body ? sha256Hex(options.body) : EMPTY_PAYLOAD_HASH;
    return retry(
      async () => {
        const offsetBefore = this.clockOffsetMs;
        const sentAt = Date.now();
        const headers = signRequest(
          { method, host: endpoint.host, path, query, headers: options.headers ?? {}, payloadHash },
          this.settings.key,
          { region: this.settings.region, service: "s3" },
          new Date(sentAt + offsetBefore),
        );
        const response = await this.exchange(method, `${path}${search ? `?${search}` : ""}`, headers, options.body);
        this.sampleClock(response, sentAt);
        const status = response.statusCode ?? 0;
        if (status >= 200 && status < 300) return read(response);
        const error = await errorAnswer(response, method);
        // An answer whose Date moved the offset by 4 minutes or more was likely refused for the time the request
        // was signed at (RequestTimeTooSkewed; a HEAD's 403 says no more): the next attempt is signed at S3's
        // time. The SDK's rule (AwsSdkSigV4Signer), whatever the error's name; once, not again for the same offset.
        if (Math.abs(this.clockOffsetMs - offsetBefore) >= 240_000) error.clockSkewCorrected = true;
        throw error;
      },
      isRetryable,
      { attempts: this.settings.maxAttempts, signal: this.closed },
    );
  }

  /**
   * The offset S3's Date header gives, as the SDK takes it (getUpdatedSystemClockOffset): not from an answer
   * a cache held (Age) or one that took over 15 minutes to come, whose Date says nothing of the clock now.
   */
  private sampleClock(response: Http.IncomingMessage, sentAt: number): void {
    const date = header(response, "date");
    if (!date || header(response, "age") !== undefined) return;
    const serverTime = Date.parse(date);
    const received = Date.now();
    if (Number.isNaN(serverTime) || received - sentAt > 900_000) return;
    this.clockOffsetMs = serverTime - received;
  }

  /** Sends the request and resolves with the response once its head arrived; the connect and idle timeouts as the SDK client has them. */
  private exchange(method: string, path: string, headers: Record<string, string>, body: Buffer | undefined): Promise<Http.IncomingMessage> {
    const { endpoint } = this.settings;
    return new Promise((resolve, reject) => {
      const request = this.http.request(
        {
          protocol: endpoint.protocol,
          hostname: endpoint.hostname,
          port: endpoint.port,
          method,
          path,
          headers,
          agent: this.agent,
          signal: this.closed,
        },
        resolve,
      );
      request.on("error", reject);
      request.on("socket", (socket) => {
        if (!socket.connecting) return;
        const timer = setTimeout(
          () => request.destroy(timeoutError(`no connection to ${endpoint.host} within ${CONNECT_TIMEOUT_MS} ms`)),
          CONNECT_TIMEOUT_MS,
        );
        socket.once("connect", () => clearTimeout(timer));
        socket.once("close", () => clearTimeout(timer));
      });
      // Idle time, not duration: a long transfer that moves is not cut. Covers the response body too.
      request.setTimeout(IDLE_TIMEOUT_MS, () => request.destroy(timeoutError(`${endpoint.host} sent nothing for ${IDLE_TIMEOUT_MS} ms`)));
      request.end(body);
    });
  }
}

/**
 * An S3 error answer in the SDK's shape (s3-requests.ts): S3's code as `name`, the status in `$metadata`,
 * and, as the SDK keeps it (not enumerable), the answer itself in `$response`: its headers say who answered
 * and where the bucket is (access-errors.ts).
 */
export class S3ResponseError extends Error {
  readonly $metadata: { httpStatusCode: number; requestId?: string };
  readonly $fault: "client" | "server";
  declare readonly $response?: { statusCode: number; headers: Record<string, string | undefined> };
  readonly BucketName?: string;
  /** The region the bucket is in, as an error document naming it says (AuthorizationHeaderMalformed). */
  readonly Region?: string;
  /** S3's error code as the answer's error document gave it (as the SDK sets it): absent for an answer without one. */
  readonly Code?: string;
  /** The request was refused for its clock, and the next one is signed at the server's (retryable). */
  clockSkewCorrected = false;
  constructor(
    code: string,
    message: string,
    status: number,
    details: {
      requestId?: string;
      bucketName?: string;
      region?: string;
      headers?: Record<string, string | undefined>;
      /** The error document's code, when the answer had one. */
      documentCode?: string;
    } = {},
  ) {
    super(message);
    this.name = code;
    this.$metadata = { httpStatusCode: status, ...(details.requestId ? { requestId: details.requestId } : {}) };
    this.$fault = status >= 500 ? "server" : "client";
    if (details.bucketName) this.BucketName = details.bucketName;
    if (details.region) this.Region = details.region;
    if (details.documentCode) this.Code = details.documentCode;
    if (details.headers)
      Object.defineProperty(this, "$response", { value: { statusCode: status, headers: details.headers }, enumerable: false });
  }
}

/** The names the SDK gives an error answer without a body (a HEAD's, a 304), by status. */
const STATUS_NAMES: Record<number, string> = {
  304: "NotModified",
  400: "BadRequest",
  403: "Forbidden",
  404: "NotFound",
  412: "PreconditionFailed",
};

async function errorAnswer(response: Http.IncomingMessage, method: string): Promise<S3ResponseError> {
  const status = response.statusCode ?? 0;
  const xml = method === "HEAD" ? "" : await text(response).catch(() => "");
  const documentCode = element(xml, "Code");
  const code = documentCode ?? STATUS_NAMES[status] ?? (status >= 500 ? "InternalError" : `Http${status}`);
  const requestId = element(xml, "RequestId") ?? header(response, "x-amz-request-id");
  const bucketName = element(xml, "BucketName");
  const region = element(xml, "Region");
  const headers: Record<string, string | undefined> = {};
  for (const name of Object.keys(response.headers)) headers[name] = header(response, name);
  return new S3ResponseError(code, element(xml, "Message") ?? `${code} (HTTP ${status})`, status, {
    ...(requestId ? { requestId } : {}),
    ...(bucketName ? { bucketName } : {}),
    ...(region ? { region } : {}),
    ...(documentCode ? { documentCode } : {}),
    headers,
  });
}

/** What the SDK's standard retry strategy retries: throttling, transient server errors, timeouts and dropped connections. */
const RETRYABLE_CODES = new Set([
  "SlowDown",
  "Throttling",
  "ThrottlingException",
  "ThrottledException",
  "RequestThrottled",
  "RequestThrottledException",
  "TooManyRequestsException",
  "RequestLimitExceeded",
  "BandwidthLimitExceeded",
  "ProvisionedThroughputExceededException",
  "PriorRequestNotComplete",
  "RequestTimeout",
  "RequestTimeoutException",
  "TimeoutError",
]);
const RETRYABLE_STATUSES = new Set([429, 500, 502, 503, 504]);
const NETWORK_ERRORS = new Set(["ECONNRESET", "ECONNREFUSED", "EPIPE", "ETIMEDOUT"]);

function isRetryable(error: unknown): boolean {
  if (error instanceof S3ResponseError) {
    return error.clockSkewCorrected || RETRYABLE_CODES.has(error.name) || RETRYABLE_STATUSES.has(error.$metadata.httpStatusCode);
  }
  const e = error as NodeJS.ErrnoException;
  return e?.name === "TimeoutError" || (e?.code !== undefined && NETWORK_ERRORS.has(e.code));
}

function timeoutError(message: string): Error {
  const error = new Error(message);
  error.name = "TimeoutError";
  return error;
}

function header(response: Http.IncomingMessage, name: string): string | undefined {
  const value = response.headers[name];
  return Array.isArray(value) ? value.join(",") : value;
}

function objectResponse(response: Http.IncomingMessage): ObjectResponse {
  const metadata: Record<string, string> = {};
  for (const [name, value] of Object.entries(response.headers)) {
    if (name.startsWith("x-amz-meta-") && typeof value === "string") metadata[name.slice("x-amz-meta-".length)] = value;
  }
  const length = header(response, "content-length");
  const modified = header(response, "last-modified");
  return {
    ETag: header(response, "etag"),
    ContentLength: length === undefined ? undefined : Number(length),
    LastModified: modified ? new Date(modified) : undefined,
    Metadata: metadata,
  };
}

/**
 * The body, checked against the whole-object checksum S3 returned (as the SDK checks it): a body whose
 * bytes do not match fails at its end. CRC32 (what cloudbridge's writes carry), SHA-1 and SHA-256 are
 * checked; a composite checksum (of a multipart upload's parts) is not a checksum of these bytes.
 */
function checked(response: Http.IncomingMessage): Readable {
  const expected = (name: string) => {
    const value = header(response, `x-amz-checksum-${name}`);
    return value && !value.includes("-") ? value : undefined;
  };
  const crc = expected("crc32");
  const digest = crc ? undefined : expected("sha256") ? "sha256" : expected("sha1") ? "sha1" : undefined;
  if (!crc && !digest) return response;
  let value = 0;
  const hash = digest ? createHash(digest) : undefined;
  const check = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      if (hash) hash.update(chunk);
      else value = zlib().crc32(chunk, value);
      done(null, chunk);
    },
    flush(done) {
      let actual: string;
      if (hash) actual = hash.digest("base64");
      else {
        const bytes = Buffer.alloc(4);
        bytes.writeUInt32BE(value);
        actual = bytes.toString("base64");
      }
      const wanted = crc ?? expected(digest!)!;
      done(actual === wanted ? null : new Error(`Checksum mismatch: expected "${wanted}" but received "${actual}" in response header.`));
    },
  });
  // pipeline, not pipe: a reader that stops early (destroys the stream) frees the connection at once.
  pipeline(response, check, () => {});
  return check;
}

/** The response once its (empty or unwanted) body has been read to its end, so its connection can serve the next request. */
async function drained(response: Http.IncomingMessage): Promise<Http.IncomingMessage> {
  for await (const chunk of response) void chunk;
  return response;
}

async function text(stream: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

/** The text of every `<name>…</name>` in `xml` (S3's answers are flat enough for this). */
function elements(xml: string, name: string): string[] {
  return [...xml.matchAll(new RegExp(`<${name}>([\\s\\S]*?)</${name}>`, "g"))].map((m) => m[1]!);
}

function element(xml: string, name: string): string | undefined {
  const found = new RegExp(`<${name}>([\\s\\S]*?)</${name}>`).exec(xml);
  return found ? unescapeXml(found[1]!) : undefined;
}

function unescapeXml(value: string): string {
  return value.replace(/&(#x[0-9a-fA-F]+|#\d+|amp|lt|gt|quot|apos);/g, (_, entity: string) => {
    if (entity.startsWith("#x")) return String.fromCodePoint(parseInt(entity.slice(2), 16));
    if (entity.startsWith("#")) return String.fromCodePoint(Number(entity.slice(1)));
    return { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" }[entity]!;
  });
}
