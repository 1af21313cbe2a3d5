import { CloudbridgeError } from "../protocol/core.ts";
import { answeredByAws } from "./s3-requests.ts";

/**
 * Why the bucket cannot be reached at all, in words that say what to do. The SDK reports these as
 * "Region is missing", "Could not load credentials from any providers", `connect ECONNREFUSED …` or
 * "The specified bucket does not exist": true, but none says which setting to change. Each is a setup
 * problem of this machine, not of one request, so retrying does not cure it.
 *
 * - no-region: the SDK found no region (no AWS_REGION, no profile region, none stored in the folder);
 * - no-credentials: the SDK's credential chain found nothing;
 * - credentials-refused: the endpoint does not know the access key, the signature does not match, or the
 *   session credentials expired;
 * - endpoint-unreachable: nothing answers at the endpoint (refused, unknown host, no route, timeout);
 * - wrong-endpoint: something answers at the endpoint, but not as S3 does: an answer without the marks S3 (and
 *   every AWS service) puts on each (s3-requests.ts answeredByAws), or a body that is not S3's XML: most likely the endpoint
 *   names another service or port;
 * - wrong-region: S3 answers, but the bucket is in another region than the one the request was signed for
 *   (301, or 400 with the bucket's region in `x-amz-bucket-region`, what a HEAD's answer, which has no
 *   body, says of it; AuthorizationHeaderMalformed names it in its body too);
 * - no-such-bucket: the endpoint answers but has no such bucket;
 * - access-denied: the credentials are known but may not do this.
 */
export type CloudAccessErrorCode =
  | "no-region"
  | "no-credentials"
  | "credentials-refused"
  | "endpoint-unreachable"
  | "wrong-endpoint"
  | "wrong-region"
  | "no-such-bucket"
  | "access-denied";

export class CloudAccessError extends CloudbridgeError<CloudAccessErrorCode> {}

/** What the caller knows about where it was going (named in the advice when known). */
export interface AccessContext {
  bucket?: string;
  endpoint?: string;
  /** The region requests were signed for, when the caller set one. */
  region?: string;
}

/**
 * The error names AWS gives a request signed with a key it does not know (any more), cannot verify, or whose
 * session has expired (S3 and SQS ExpiredToken, JSON services ExpiredTokenException): each cured by another
 * key, not by retrying the request. The agent re-reads its key on any of these (agent-key.ts isAuthFailure).
 */
export const KEY_REFUSED = new Set([
  "InvalidAccessKeyId",
  "InvalidClientTokenId",
  "UnrecognizedClientException",
  "SignatureDoesNotMatch",
  "AuthFailure",
  "ExpiredToken",
  "ExpiredTokenException",
]);

const UNREACHABLE = new Set(["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "EHOSTUNREACH", "ENETUNREACH", "ETIMEDOUT", "ECONNRESET"]);

/** The setup problem behind `error`, or undefined when it is something else (left as it is). */
export function explainAccessError(error: unknown, context: AccessContext = {}): CloudAccessError | undefined {
  if (error instanceof CloudAccessError) return error;
  if (!(error instanceof Error)) return undefined;
  const found = classify(error);
  if (!found) return undefined;
  const { code, detail } = found;
  const where = context.endpoint ? ` at ${context.endpoint}` : "";
  const bucket = context.bucket ?? detail.bucket;
  const messages: Record<CloudAccessErrorCode, string> = {
    "no-region":
      "No AWS region is set: set the folder's with `git config cloudbridge.region <region>` (e.g. us-east-1), or export AWS_REGION=<region>.",
    "no-credentials":
      "No AWS credentials were found: export AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (the agent's keys from the stack outputs, or the ones `cloudbridge local` printed), or AWS_PROFILE=<profile>.",
    "credentials-refused": `The endpoint${where} does not accept these AWS credentials (${detail.name}${detail.name.startsWith("Expired") ? ": their session has expired, get new ones" : ""}): check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or AWS_PROFILE, or the profile the repository names (\`git config cloudbridge.profile\`; an onboarded machine gets its key back with \`cloudbridge init --stack …\`).`,
    "endpoint-unreachable": `Cannot reach the S3 endpoint${detail.address ? ` ${detail.address}` : where} (${detail.name}): is the network up and \`cloudbridge local\` (or the endpoint) running? Check cloudbridge.endpoint / AWS_ENDPOINT_URL.`,
    "wrong-endpoint": `The endpoint${where} answered, but not as S3 does (${detail.name}): check that cloudbridge.endpoint (or --endpoint, AWS_ENDPOINT_URL) names the S3 endpoint, with its port (for \`cloudbridge local\`, the URL it printed).`,
    "wrong-region": `The bucket ${bucket ? `"${bucket}" ` : ""}is in the region ${detail.region}${context.region ? `, not ${context.region}` : ""} (S3 answered ${detail.name}): use that region: \`git config cloudbridge.region ${detail.region}\` in the folder, \`--region ${detail.region}\` for init and clone, or AWS_REGION=${detail.region}.`,
    "no-such-bucket": `The bucket ${bucket ? `"${bucket}" ` : ""}does not exist${where}: create it (deploy the stack, or \`cloudbridge local --bucket NAME\`), or fix the s3:// URL (cloudbridge.bucket).`,
    "access-denied": `Access denied${bucket ? ` to the bucket "${bucket}"` : ""}${where}: the credentials in use may not do this; use this agent's own keys (stack outputs) or a profile allowed on the bucket.`,
  };
  return new CloudAccessError(code, messages[code], { cause: error });
}

interface Detail {
  name: string;
  bucket?: string;
  address?: string;
  region?: string;
}

function classify(error: Error): { code: CloudAccessErrorCode; detail: Detail } | undefined {
  // A network error may be wrapped (the SDK's own errors, AggregateError of several addresses).
  for (const e of causes(error)) {
    const sys = e as NodeJS.ErrnoException & {
      address?: string;
      port?: number;
      $metadata?: { httpStatusCode?: number };
      $response?: { headers?: Record<string, string | undefined> };
      BucketName?: string;
      Region?: string;
    };
    const name = sys.name;
    if (/Region is missing/i.test(e.message)) return { code: "no-region", detail: { name: "no region" } };
    if (name === "CredentialsProviderError" || /Could not load credentials/i.test(e.message))
      return { code: "no-credentials", detail: { name: "no credentials" } };
    if (sys.code && UNREACHABLE.has(sys.code)) {
      const address = sys.address ? `${sys.address}${sys.port ? `:${sys.port}` : ""}` : undefined;
      return { code: "endpoint-unreachable", detail: { name: sys.code, ...(address ? { address } : {}) } };
    }
    if (name === "TimeoutError" || name === "RequestTimeout") return { code: "endpoint-unreachable", detail: { name: "no answer" } };
    // An https:// endpoint whose server does not speak TLS (OpenSSL's "packet length too long", "wrong version
    // number"): something answers, in plain HTTP most likely.
    if (sys.code === "EPROTO" || sys.code?.startsWith("ERR_SSL_"))
      return { code: "wrong-endpoint", detail: { name: `${sys.code}: no TLS there; is it an http:// endpoint?` } };
    // Who answered is in the answer's headers (both clients keep them as the SDK does, in `$response`); the
    // status alone cannot tell: S3's own answer to a HEAD has no body, whatever went wrong.
    // (Not a 5xx: a load balancer's busy answer has no marks either, and passes by itself.)
    const status = sys.$metadata?.httpStatusCode;
    const headers = sys.$response?.headers;
    const aws = answeredByAws(e);
    if (headers !== undefined && status !== undefined && status < 500) {
      if (aws === false) return { code: "wrong-endpoint", detail: { name: `HTTP ${status} without S3's request ids` } };
      const region = headers["x-amz-bucket-region"] ?? (typeof sys.Region === "string" ? sys.Region : undefined);
      if (region && (status === 301 || status === 400))
        return {
          code: "wrong-region",
          detail: { name: `HTTP ${status}${name && !/^\d+$|^UnknownError$/.test(name) ? ` ${name}` : ""}`, region },
        };
    }
    // A body the SDK could not read as XML at all (an HTML page) is not S3's, whose every error is XML.
    if (/XML parse error|Deserialization error/.test(e.message) && aws !== true)
      return { code: "wrong-endpoint", detail: { name: "an answer that is not S3's XML" } };
    if (name === "NoSuchBucket")
      return { code: "no-such-bucket", detail: { name, ...(typeof sys.BucketName === "string" ? { bucket: sys.BucketName } : {}) } };
    if (KEY_REFUSED.has(name)) return { code: "credentials-refused", detail: { name } };
    if (
      name === "AccessDenied" ||
      name === "AccessDeniedException" ||
      name === "AuthorizationError" ||
      sys.$metadata?.httpStatusCode === 403
    )
      return { code: "access-denied", detail: { name } };
  }
  return undefined;
}

function* causes(error: Error): Generator<Error> {
  const seen = new Set<unknown>();
  const queue: unknown[] = [error];
  while (queue.length > 0) {
    const next = queue.shift();
    if (!(next instanceof Error) || seen.has(next)) continue;
    seen.add(next);
    yield next;
    queue.push(next.cause);
    if (next instanceof AggregateError) queue.push(...(next.errors as unknown[]));
  }
}
