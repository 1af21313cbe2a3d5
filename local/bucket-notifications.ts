import type { S3Event, S3EventRecord } from "aws-lambda";
import { encodeEventKey } from "../protocol/index.ts";
import type { FauxqsParts, StoredObject } from "./fauxqs-internals.ts";

/**
 * S3 bucket notifications, which fauxqs does not deliver: after each successful write or delete, the
 * matching targets receive an event shaped exactly as S3 sends it to Lambda (one record per event,
 * URL-encoded key, unquoted ETag, a sequencer that grows per key). Delivery is asynchronous, after the
 * response, and at least once, as on AWS.
 */
export interface NotificationRule {
  readonly id: string;
  readonly bucket: string;
  /** `ObjectCreated` or `ObjectRemoved` (S3's `s3:ObjectCreated:*` and `s3:ObjectRemoved:*`). */
  readonly events: readonly ("ObjectCreated" | "ObjectRemoved")[];
  readonly prefix?: string;
  readonly suffix?: string;
  readonly deliver: (event: S3Event) => Promise<void>;
}

export interface BucketNotifications {
  add(rule: NotificationRule): void;
  /** Resolves when every event emitted so far has been delivered (or has failed for good). */
  drain(): Promise<void>;
}

export function installBucketNotifications(
  { app, s3 }: FauxqsParts,
  options: { region: string; onError: (rule: NotificationRule, key: string, error: unknown) => void },
): BucketNotifications {
  const rules: NotificationRule[] = [];
  const inFlight = new Set<Promise<void>>();
  let copying = false;
  let sequence = 0;

  app.addHook("preHandler", (request, _reply, done) => {
    copying = request.method === "PUT" && request.headers["x-amz-copy-source"] !== undefined;
    done();
  });

  const emit = (eventName: string, bucket: string, key: string, object?: StoredObject): void => {
    const kind = eventName.split(":")[0] as "ObjectCreated" | "ObjectRemoved";
    const matching = rules.filter(
      (r) => r.bucket === bucket && r.events.includes(kind) && key.startsWith(r.prefix ?? "") && key.endsWith(r.suffix ?? ""),
    );
    if (matching.length === 0) return;
    sequence += 1;
    const sequencer = (Date.now() * 1000 + (sequence % 1000)).toString(16).toUpperCase().padStart(16, "0");
    for (const rule of matching) {
      const record = eventRecord({ rule, eventName, bucket, key, object, sequencer, region: options.region });
      const delivery = deliverWithRetries(rule, { Records: [record] }).catch((error) => options.onError(rule, key, error));
      inFlight.add(delivery);
      void delivery.finally(() => inFlight.delete(delivery));
    }
  };

  const putObject = s3.putObject.bind(s3);
  s3.putObject = (bucket, key, ...rest) => {
    const object = putObject(bucket, key, ...rest);
    emit(copying ? "ObjectCreated:Copy" : "ObjectCreated:Put", bucket, key, object);
    return object;
  };
  const complete = s3.completeMultipartUpload.bind(s3);
  s3.completeMultipartUpload = (uploadId, parts) => {
    const upload = s3.multipartUploads.get(uploadId);
    const object = complete(uploadId, parts);
    if (upload) emit("ObjectCreated:CompleteMultipartUpload", upload.bucket, upload.key, object);
    return object;
  };
  const deleteObject = s3.deleteObject.bind(s3);
  s3.deleteObject = (bucket, key) => {
    deleteObject(bucket, key);
    emit("ObjectRemoved:Delete", bucket, key);
  };

  return {
    add: (rule) => void rules.push(rule),
    drain: async () => {
      while (inFlight.size > 0) await Promise.allSettled([...inFlight]);
    },
  };
}

/** Lambda's asynchronous invocation retries a failed event twice. */
async function deliverWithRetries(rule: NotificationRule, event: S3Event): Promise<void> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      await rule.deliver(event);
      return;
    } catch (error) {
      if (attempt >= 3) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100 * attempt));
    }
  }
}

function eventRecord(args: {
  rule: NotificationRule;
  eventName: string;
  bucket: string;
  key: string;
  object: StoredObject | undefined;
  sequencer: string;
  region: string;
}): S3EventRecord {
  const { object } = args;
  return {
    eventVersion: "2.1",
    eventSource: "aws:s3",
    awsRegion: args.region,
    eventTime: new Date().toISOString(),
    eventName: args.eventName,
    userIdentity: { principalId: "AWS:CLOUDBRIDGELOCAL" },
    requestParameters: { sourceIPAddress: "127.0.0.1" },
    responseElements: { "x-amz-request-id": args.sequencer, "x-amz-id-2": "cloudbridge-local" },
    s3: {
      s3SchemaVersion: "1.0",
      configurationId: args.rule.id,
      bucket: {
        name: args.bucket,
        ownerIdentity: { principalId: "CLOUDBRIDGELOCAL" },
        arn: `arn:aws:s3:::${args.bucket}`,
      },
      object: {
        key: encodeEventKey(args.key),
        ...(object ? { size: object.contentLength, eTag: object.etag.replaceAll('"', "") } : {}),
        sequencer: args.sequencer,
      } as S3EventRecord["s3"]["object"],
    },
  };
}
