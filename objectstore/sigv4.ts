import { createHash, createHmac } from "node:crypto";

/**
 * AWS Signature Version 4 for S3 requests, on Node's own crypto. The SDK's signer (@smithy/signature-v4)
 * loads a good part of the SDK's core with it (~60 ms of CPU and 18 MiB at a process's start, more than the
 * whole start-up a `git push` through the remote helper may take), for what is a page of hashing: this is
 * that page, checked against the SDK's signer and the local cloud's verifier in test/unit/objectstore.
 *
 * S3 signs the path as it is sent (each segment percent-encoded once, never normalized) and the payload's
 * SHA-256 (`x-amz-content-sha256`, or UNSIGNED-PAYLOAD).
 */
export interface SigningKey {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

export interface RequestToSign {
  method: string;
  /** Host header value (with the port when it is not the scheme's default). */
  host: string;
  /** The path as sent, already percent-encoded (`encodeKeyPath`). */
  path: string;
  /** Query parameters, not yet encoded. */
  query: ReadonlyArray<readonly [string, string]>;
  /** Headers to send and sign (names in lower case). */
  headers: Record<string, string>;
  /** Hex SHA-256 of the body, or "UNSIGNED-PAYLOAD". */
  payloadHash: string;
}

export const EMPTY_PAYLOAD_HASH = createHash("sha256").digest("hex");

/** The headers to send: the request's own plus x-amz-date, x-amz-content-sha256, the session token and the Authorization. */
export function signRequest(
  request: RequestToSign,
  key: SigningKey,
  scope: { region: string; service: string },
  now: Date = new Date(),
): Record<string, string> {
  const amzDate = now
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d{3}/, "");
  const day = amzDate.slice(0, 8);
  const headers: Record<string, string> = {
    ...request.headers,
    host: request.host,
    "x-amz-date": amzDate,
    "x-amz-content-sha256": request.payloadHash,
    ...(key.sessionToken ? { "x-amz-security-token": key.sessionToken } : {}),
  };
  const names = Object.keys(headers)
    .map((name) => name.toLowerCase())
    .sort();
  const lowered = new Map(Object.entries(headers).map(([name, value]) => [name.toLowerCase(), value]));
  // Runs of spaces and tabs become one space, line breaks a space, none at either end (not Unicode white space).
  const canonicalHeaders = names
    .map(
      (name) =>
        `${name}:${lowered
          .get(name)!
          .replace(/[\r\n]/g, " ")
          .replace(/[ \t]+/g, " ")
          .replace(/^ | $/g, "")}\n`,
    )
    .join("");
  const signedHeaders = names.join(";");
  const canonicalRequest = [
    request.method,
    request.path,
    canonicalQuery(request.query),
    canonicalHeaders,
    signedHeaders,
    request.payloadHash,
  ].join("\n");
  const credentialScope = `${day}/${scope.region}/${scope.service}/aws4_request`;
  const stringToSign = ["AWS4-HMAC-SHA256", amzDate, credentialScope, sha256Hex(canonicalRequest)].join("\n");
  const signingKey = [day, scope.region, scope.service, "aws4_request"].reduce<Buffer>(
    (secret, part) => hmac(secret, part),
    Buffer.from(`AWS4${key.secretAccessKey}`),
  );
  const signature = createHmac("sha256", signingKey).update(stringToSign).digest("hex");
  headers.authorization = `AWS4-HMAC-SHA256 Credential=${key.accessKeyId}/${credentialScope}, SignedHeaders=${signedHeaders}, Signature=${signature}`;
  return headers;
}

/** RFC 3986 encoding, as SigV4 wants it: every byte but A-Z a-z 0-9 - _ . ~ percent-encoded. */
export function uriEscape(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** An object key as a URL path: each "/"-separated segment escaped, the slashes kept. */
export function encodeKeyPath(key: string): string {
  return key.split("/").map(uriEscape).join("/");
}

/** The query string, sorted by name then value, both escaped: what is sent is exactly what is signed. */
export function canonicalQuery(query: ReadonlyArray<readonly [string, string]>): string {
  return query
    .map(([name, value]) => [uriEscape(name), uriEscape(value)] as const)
    .sort(([a, x], [b, y]) => (a < b ? -1 : a > b ? 1 : x < y ? -1 : x > y ? 1 : 0))
    .map(([name, value]) => `${name}=${value}`)
    .join("&");
}

export function sha256Hex(data: string | Buffer): string {
  return createHash("sha256").update(data).digest("hex");
}

function hmac(key: Buffer, data: string): Buffer {
  return createHmac("sha256", key).update(data).digest();
}
