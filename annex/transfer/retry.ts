import { retry } from "../../objectstore/index.ts";
import { AnnexError } from "../errors.ts";

/**
 * A bounded outer retry for whole streamed operations (a ranged GET cut mid-body, a part whose connection
 * dropped). The SDK already retries each request; a stream that fails after its response started is ours.
 */
export interface RetryOptions {
  attempts?: number;
  baseDelayMs?: number;
  signal?: AbortSignal;
}

export function withRetry<T>(work: (attempt: number) => Promise<T>, options: RetryOptions = {}): Promise<T> {
  return retry(work, isTransient, {
    attempts: options.attempts ?? 5,
    baseDelayMs: options.baseDelayMs ?? 200,
    ...(options.signal ? { signal: options.signal } : {}),
  });
}

const TRANSIENT_CODES = new Set(["ECONNRESET", "ECONNREFUSED", "ETIMEDOUT", "EPIPE", "EAI_AGAIN", "ENOTFOUND", "UND_ERR_SOCKET"]);
const TRANSIENT_NAMES = new Set([
  "TimeoutError",
  "RequestTimeout",
  "SlowDown",
  "InternalError",
  "ServiceUnavailable",
  "ThrottlingException",
]);

// Typed outcomes that another attempt cannot change.
const FINAL_NAMES = new Set(["AbortError", "NoSuchUpload", "PreconditionFailed", "ObjectMissing"]);

export function isTransient(error: unknown): boolean {
  const e = error as { code?: string; name?: string; message?: string; $metadata?: { httpStatusCode?: number } } | undefined;
  if (!e) return false;
  // The annex's own refusals say something about the content, which another attempt does not change.
  if (error instanceof AnnexError) return false;
  if (e.name && FINAL_NAMES.has(e.name)) return false;
  if (e.code && TRANSIENT_CODES.has(e.code)) return true;
  if (e.name && TRANSIENT_NAMES.has(e.name)) return true;
  const status = e.$metadata?.httpStatusCode;
  if (status !== undefined) return status >= 500 || status === 429;
  // Plain network errors from Node's http stack carry only a message.
  return (
    (e.name === undefined || e.name === "Error") &&
    /socket hang up|premature close|ECONNRESET|other side closed|terminated/i.test(e.message ?? "")
  );
}
