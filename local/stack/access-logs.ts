import { randomBytes, randomUUID } from "node:crypto";
import type { FastifyReply, FastifyRequest } from "fastify";
import type { FauxqsParts } from "../fauxqs-internals.ts";
import { parseAuthorization } from "./sigv4.ts";

/**
 * S3 server access logging, rehearsed: a bucket whose `LoggingConfiguration` names a target bucket gets one
 * record per request in S3's server access log format (docs.aws.amazon.com/AmazonS3/latest/userguide/
 * LogFormat.html), refused requests included, delivered into the target bucket under its prefix as log
 * objects named as S3 names them (`<prefix>YYYY-mm-DD-HH-MM-SS-<16 hex>`). S3 delivers within hours, best
 * effort; here every second, so a test can read what a person's logs would hold.
 */
export interface AccessLogTarget {
  readonly bucket: string;
  readonly prefix: string;
}

/** The canonical user id S3 writes as the bucket owner: the rehearsal has one account, so one owner. */
const BUCKET_OWNER = "c0ffee".padEnd(64, "0");
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
const DELIVERY_MS = 1000;

export class AccessLogs {
  private readonly targets = new Map<string, AccessLogTarget>();
  /** Target bucket and prefix → records not yet delivered. */
  private readonly pending = new Map<string, { target: AccessLogTarget; records: string[] }>();
  private timer: NodeJS.Timeout | undefined;
  private readonly parts: FauxqsParts;

  constructor(parts: FauxqsParts, requester: (accessKeyId: string) => string | undefined) {
    this.parts = parts;
    parts.app.addHook("onResponse", async (request: FastifyRequest, reply: FastifyReply) => {
      const bucket = (request.params as { bucket?: string } | undefined)?.bucket;
      const target = bucket === undefined ? undefined : this.targets.get(bucket);
      if (!target || bucket === undefined) return;
      const keyId = parseAuthorization(request.headers)?.accessKeyId;
      this.record(target, formatRecord(request, reply, bucket, (keyId && requester(keyId)) || "-"));
    });
  }

  /** Logs the requests to `source` into `target` from now on (the bucket's LoggingConfiguration). */
  configure(source: string, target: AccessLogTarget): void {
    this.targets.set(source, target);
    this.timer ??= setInterval(() => this.deliver(), DELIVERY_MS).unref();
  }

  /** Writes every record not yet delivered, one log object per target. */
  deliver(): void {
    for (const [where, { target, records }] of this.pending) {
      this.pending.delete(where);
      if (!this.parts.s3.hasBucket(target.bucket)) continue;
      this.parts.s3.putObject(target.bucket, logObjectKey(target.prefix, new Date()), Buffer.from(records.join("")));
    }
  }

  stop(): void {
    clearInterval(this.timer);
    this.deliver();
  }

  private record(target: AccessLogTarget, record: string): void {
    const where = `${target.bucket}\0${target.prefix}`;
    const batch = this.pending.get(where) ?? { target, records: [] };
    batch.records.push(record);
    this.pending.set(where, batch);
  }
}

function logObjectKey(prefix: string, at: Date): string {
  const stamp = at.toISOString().slice(0, 19).replace("T", "-").replaceAll(":", "-");
  return `${prefix}${stamp}-${randomBytes(8).toString("hex").toUpperCase()}`;
}

/** `[06/Feb/2019:00:00:38 +0000]` */
function logTime(at: Date): string {
  const two = (n: number) => String(n).padStart(2, "0");
  return `[${two(at.getUTCDate())}/${MONTHS[at.getUTCMonth()]}/${at.getUTCFullYear()}:${two(at.getUTCHours())}:${two(at.getUTCMinutes())}:${two(at.getUTCSeconds())} +0000]`;
}

/** S3's operation name: REST.GET.OBJECT, REST.PUT.PART, REST.GET.BUCKET, REST.POST.UPLOADS… */
function operation(method: string, key: string | undefined, query: URLSearchParams): string {
  let what = key ? "OBJECT" : "BUCKET";
  if (key && query.has("uploads")) what = "UPLOADS";
  else if (key && query.has("partNumber")) what = "PART";
  else if (key && query.has("uploadId")) what = "UPLOAD";
  else if (!key && query.has("notification")) what = "NOTIFICATION";
  return `REST.${method}.${what}`;
}

function quoted(value: string | undefined): string {
  return value ? `"${value.replaceAll('"', "%22")}"` : "-";
}

function formatRecord(request: FastifyRequest, reply: FastifyReply, bucket: string, requester: string): string {
  const url = request.raw.url ?? "/";
  const question = url.indexOf("?");
  const query = new URLSearchParams(question < 0 ? "" : url.slice(question + 1));
  const key = (request.params as { "*"?: string } | undefined)?.["*"] || undefined;
  const status = reply.statusCode;
  const sent = reply.getHeader("content-length");
  const size = request.headers["content-length"];
  const fields = [
    BUCKET_OWNER,
    bucket,
    logTime(new Date()),
    request.ip,
    requester,
    String(reply.getHeader("x-amz-request-id") ?? randomUUID().replaceAll("-", "").slice(0, 16).toUpperCase()),
    operation(request.method, key, query),
    key ? encodeURIComponent(key).replaceAll("%2F", "/") : "-",
    quoted(`${request.method} ${url} HTTP/${request.raw.httpVersion}`),
    String(status),
    status >= 400 ? String(reply.getHeader("x-amz-error-code") ?? "-") : "-",
    sent === undefined || status === 304 ? "-" : String(sent),
    request.method === "PUT" && size !== undefined ? String(size) : "-",
    String(Math.round(reply.elapsedTime)),
    "-",
    quoted(request.headers.referer),
    quoted(request.headers["user-agent"]),
    "-",
    randomBytes(48).toString("base64"),
    request.headers.authorization ? "SigV4" : "-",
    "-",
    request.headers.authorization ? "AuthHeader" : "-",
    request.headers.host ?? "-",
    "-",
    "-",
    "-",
  ];
  return `${fields.join(" ")}\n`;
}
