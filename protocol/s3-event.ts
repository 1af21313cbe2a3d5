import { z } from "zod";
import { builtOnFirstUse, describeIssues } from "./zod.ts";
import { ProtocolError, quote } from "./errors.ts";
import { hasLoneSurrogate } from "./names.ts";

/**
 * S3 event notifications as Lambda receives them (event version 2.x). Only what cloudbridge uses is
 * validated; the rest of a record passes through untouched.
 */
const recordSchema = builtOnFirstUse(() =>
  z.object({
    eventVersion: z.string().regex(/^2\.\d+$/, "eventVersion must be 2.x"),
    eventSource: z.literal("aws:s3"),
    eventTime: z.iso.datetime({ offset: true }),
    eventName: z.string().min(1),
    s3: z.object({
      bucket: z.object({ name: z.string().min(1) }),
      object: z.object({
        key: z.string().min(1),
        size: z.number().int().nonnegative().optional(),
        eTag: z.string().optional(),
        versionId: z.string().optional(),
        sequencer: z.string().optional(),
      }),
    }),
  }),
);

export interface S3Change {
  /** `ObjectCreated:Put`, `ObjectRemoved:Delete`, … */
  readonly eventName: string;
  readonly bucket: string;
  /** The object key, decoded (S3 sends it URL-encoded with "+" for space). */
  readonly key: string;
  readonly size: number | undefined;
  readonly etag: string | undefined;
  readonly sequencer: string | undefined;
  readonly time: string;
}

export interface RejectedRecord {
  readonly index: number;
  readonly reason: string;
}

export interface ParsedS3Event {
  readonly changes: S3Change[];
  readonly rejected: RejectedRecord[];
}

/** Batches larger than this are cut: S3 sends one record per event, so more means a forged event. */
export const MAX_RECORDS_PER_EVENT = 1000;

/**
 * Splits an S3 event into the changes it reports. A malformed record is rejected with its reason and
 * does not stop the others; an event that is not an S3 event at all throws.
 */
export function parseS3Event(event: unknown): ParsedS3Event {
  if (typeof event !== "object" || event === null || !("Records" in event) || !Array.isArray(event.Records)) {
    throw new ProtocolError("invalid-event", 'The event has no "Records" array: it is not an S3 event notification.', event);
  }
  const records: unknown[] = event.Records;
  const changes: S3Change[] = [];
  const rejected: RejectedRecord[] = [];
  records.forEach((record, index) => {
    if (index >= MAX_RECORDS_PER_EVENT) {
      rejected.push({ index, reason: `more than ${MAX_RECORDS_PER_EVENT} records in one event` });
      return;
    }
    const parsed = recordSchema().safeParse(record);
    if (!parsed.success) {
      const why = describeIssues(parsed.error, "", ": ");
      rejected.push({ index, reason: `not an S3 record (${why})` });
      return;
    }
    const { s3, eventName, eventTime } = parsed.data;
    let key: string;
    try {
      key = decodeEventKey(s3.object.key);
    } catch (error) {
      rejected.push({ index, reason: (error as Error).message });
      return;
    }
    changes.push({
      eventName,
      bucket: s3.bucket.name,
      key,
      size: s3.object.size,
      etag: s3.object.eTag,
      sequencer: s3.object.sequencer,
      time: eventTime,
    });
  });
  return { changes, rejected };
}

/** S3 event keys are form-encoded: "+" is a space, "%2B" is a plus. */
export function decodeEventKey(encoded: string): string {
  try {
    return decodeURIComponent(encoded.replaceAll("+", " "));
  } catch {
    throw new ProtocolError("invalid-event", `The object key ${quote(encoded)} in the event is not valid URL encoding.`, encoded);
  }
}

/** The inverse of decodeEventKey, as S3 encodes keys in event records. */
export function encodeEventKey(key: string): string {
  if (hasLoneSurrogate(key)) {
    throw new ProtocolError("invalid-key", `The object key ${quote(key)} is not valid Unicode, so S3 could not hold it.`, key);
  }
  return encodeURIComponent(key)
    .replaceAll("%20", "+")
    .replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
    .replaceAll("%2F", "/");
}
