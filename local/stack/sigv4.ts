import { createHash, createHmac, timingSafeEqual, type Hash, type Hmac } from "node:crypto";
import { SignatureV4 } from "@smithy/signature-v4";

/**
 * AWS Signature Version 4, checked as AWS checks it: the request is signed again with the secret of the
 * access key it names, by the SDK's own signer (@smithy/signature-v4), over exactly the headers it says it
 * signed, and the two signatures must be equal. The credential scope says which service and region the
 * client signed for, which is also how the local cloud tells services apart on one port.
 */
export interface SignedRequest {
  method: string;
  /** The path as sent on the wire (still percent-encoded). */
  rawPath: string;
  /** The query string as sent, without "?". */
  rawQuery: string;
  headers: Record<string, string | string[] | undefined>;
  /** The raw body, needed only when the client did not send x-amz-content-sha256. */
  body: Buffer | undefined;
}

export interface Authorization {
  accessKeyId: string;
  date: string;
  region: string;
  service: string;
  signedHeaders: string[];
  signature: string;
}

export type SignatureCheck =
  | { ok: true; authorization: Authorization }
  | {
      ok: false;
      code: "MissingAuthenticationToken" | "IncompleteSignature" | "InvalidAccessKeyId" | "SignatureDoesNotMatch";
      message: string;
    }
  | {
      ok: false;
      /** Signed at a time more than MAX_CLOCK_SKEW_MS from the server's; each service words it its own way (gate.ts). */
      code: "RequestTimeTooSkewed";
      /** X-Amz-Date as sent, and the server's time. */
      requestTime: string;
      serverTime: Date;
      /** The words of the services that say "Signature expired" (SQS, SNS, Secrets Manager). */
      message: string;
    };

/** How far a request's X-Amz-Date may be from the server's clock, either way: AWS's 15 minutes. */
export const MAX_CLOCK_SKEW_MS = 900_000;

const AUTHORIZATION =
  /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]{64})$/;

/** What the Authorization header says, or undefined when there is none or it is not SigV4. */
export function parseAuthorization(headers: SignedRequest["headers"]): Authorization | undefined {
  const header = first(headers.authorization);
  const match = header ? AUTHORIZATION.exec(header.trim()) : null;
  if (!match) return undefined;
  const [, accessKeyId, date, region, service, signedHeaders, signature] = match as unknown as string[];
  return {
    accessKeyId: accessKeyId!,
    date: date!,
    region: region!,
    service: service!,
    signedHeaders: signedHeaders!.split(";"),
    signature: signature!,
  };
}

export async function checkSignature(
  request: SignedRequest,
  secretFor: (accessKeyId: string) => string | undefined,
  now: Date = new Date(),
): Promise<SignatureCheck> {
  if (!first(request.headers.authorization)) {
    return { ok: false, code: "MissingAuthenticationToken", message: "Request is missing Authentication Token" };
  }
  const authorization = parseAuthorization(request.headers);
  if (!authorization) {
    return { ok: false, code: "IncompleteSignature", message: "The Authorization header is not a complete AWS Signature Version 4." };
  }
  const secretAccessKey = secretFor(authorization.accessKeyId);
  if (secretAccessKey === undefined) {
    return { ok: false, code: "InvalidAccessKeyId", message: "The AWS Access Key Id you provided does not exist in our records." };
  }
  const amzDate = first(request.headers["x-amz-date"]);
  if (!amzDate || !/^\d{8}T\d{6}Z$/.test(amzDate)) {
    return { ok: false, code: "IncompleteSignature", message: "The request has no valid X-Amz-Date header." };
  }
  const signingDate = new Date(
    `${amzDate.slice(0, 4)}-${amzDate.slice(4, 6)}-${amzDate.slice(6, 8)}T${amzDate.slice(9, 11)}:${amzDate.slice(11, 13)}:${amzDate.slice(13, 15)}Z`,
  );
  const skew = signingDate.getTime() - now.getTime();
  if (Number.isNaN(skew)) return { ok: false, code: "IncompleteSignature", message: "The request has no valid X-Amz-Date header." };
  if (Math.abs(skew) > MAX_CLOCK_SKEW_MS) {
    const stamp = (ms: number) => amzStamp(new Date(ms));
    const message =
      skew < 0
        ? `Signature expired: ${amzDate} is now earlier than ${stamp(now.getTime() - MAX_CLOCK_SKEW_MS)} (${stamp(now.getTime())} - 15 min.)`
        : `Signature not yet current: ${amzDate} is still later than ${stamp(now.getTime() + MAX_CLOCK_SKEW_MS)} (${stamp(now.getTime())} + 15 min.)`;
    return { ok: false, code: "RequestTimeTooSkewed", requestTime: amzDate, serverTime: now, message };
  }
  const headers: Record<string, string> = {};
  for (const name of authorization.signedHeaders) {
    const value = request.headers[name];
    if (value === undefined) return { ok: false, code: "SignatureDoesNotMatch", message: `The signed header ${name} is missing.` };
    headers[name] = Array.isArray(value) ? value.join(",") : value;
  }
  const query: Record<string, string | string[]> = {};
  for (const [key, value] of new URLSearchParams(request.rawQuery)) {
    const existing = query[key];
    query[key] = existing === undefined ? value : [...(Array.isArray(existing) ? existing : [existing]), value];
  }
  const s3 = authorization.service === "s3";
  const signer = new SignatureV4({
    service: authorization.service,
    region: authorization.region,
    credentials: { accessKeyId: authorization.accessKeyId, secretAccessKey },
    sha256: Sha256,
    // S3 signs the path as sent; every other service signs it encoded once more.
    uriEscapePath: !s3,
    applyChecksum: false,
  });
  const signed = await signer.sign(
    {
      method: request.method,
      protocol: "http:",
      hostname: headers.host ?? "",
      path: s3 ? request.rawPath : decodeURIComponent(request.rawPath),
      query,
      headers,
      body: headers["x-amz-content-sha256"] === undefined ? (request.body ?? Buffer.alloc(0)) : undefined,
    },
    {
      signingDate,
      signableHeaders: new Set(authorization.signedHeaders),
      signingRegion: authorization.region,
      signingService: authorization.service,
    },
  );
  const expected = /Signature=([0-9a-f]{64})/.exec(String(signed.headers.authorization))?.[1] ?? "";
  if (expected.length !== 64 || !timingSafeEqual(Buffer.from(expected), Buffer.from(authorization.signature))) {
    return {
      ok: false,
      code: "SignatureDoesNotMatch",
      message: "The request signature we calculated does not match the signature you provided. Check your key and signing method.",
    };
  }
  // A body sent with a declared SHA-256 must match it (S3 checks this too, as XAmzContentSHA256Mismatch).
  const declared = headers["x-amz-content-sha256"];
  if (declared && /^[0-9a-f]{64}$/.test(declared) && request.body && createHash("sha256").update(request.body).digest("hex") !== declared) {
    return {
      ok: false,
      code: "SignatureDoesNotMatch",
      message: "The provided 'x-amz-content-sha256' header does not match what was computed.",
    };
  }
  return { ok: true, authorization };
}

/** SHA-256 (and HMAC-SHA-256 when given a key) in the shape the signer takes, on Node's own crypto. */
class Sha256 {
  private readonly hash: Hash | Hmac;
  constructor(secret?: string | ArrayBuffer | ArrayBufferView) {
    this.hash = secret === undefined ? createHash("sha256") : createHmac("sha256", bytes(secret));
  }
  update(data: string | ArrayBuffer | ArrayBufferView): void {
    this.hash.update(bytes(data));
  }
  digest(): Promise<Uint8Array> {
    return Promise.resolve(new Uint8Array(this.hash.digest()));
  }
}

function bytes(data: string | ArrayBuffer | ArrayBufferView): string | Uint8Array {
  if (typeof data === "string") return data;
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

/** A time as SigV4 writes it: 20261129T101500Z. */
function amzStamp(date: Date): string {
  return date
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d{3}/, "");
}

function first(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
