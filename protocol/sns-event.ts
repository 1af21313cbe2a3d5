import { z } from "zod";
import { builtOnFirstUse, describeIssues } from "./zod.ts";
import { ProtocolError } from "./errors.ts";

/**
 * SNS notifications as Lambda receives them (`{"Records":[{"EventSource":"aws:sns","Sns":{…}}]}`), and the
 * builder that turns an SNS envelope (what SNS delivers to a non-raw SQS subscription) into that shape,
 * so the local cloud can invoke the real handler with what Lambda would have given it.
 */
const recordSchema = builtOnFirstUse(() =>
  z.object({
    EventSource: z.literal("aws:sns"),
    EventVersion: z.string().optional(),
    EventSubscriptionArn: z.string().optional(),
    Sns: z.object({
      Type: z.literal("Notification"),
      MessageId: z.string().min(1),
      TopicArn: z.string().min(1),
      Message: z.string(),
      Timestamp: z.string().optional(),
    }),
  }),
);

export interface SnsNotification {
  readonly messageId: string;
  readonly topicArn: string;
  readonly message: string;
}

/** SNS invokes a function with one record; more than this in one event means a forged event. */
export const MAX_SNS_RECORDS_PER_EVENT = 10;

/**
 * The notifications in an SNS event; a malformed record is rejected with its reason and does not stop
 * the others; an event that is not an SNS event at all throws.
 */
export function parseSnsEvent(event: unknown): {
  notifications: SnsNotification[];
  rejected: { index: number; reason: string }[];
} {
  if (typeof event !== "object" || event === null || !("Records" in event) || !Array.isArray(event.Records)) {
    throw new ProtocolError("invalid-event", 'The event has no "Records" array: it is not an SNS notification event.', event);
  }
  const notifications: SnsNotification[] = [];
  const rejected: { index: number; reason: string }[] = [];
  (event.Records as unknown[]).forEach((record, index) => {
    if (index >= MAX_SNS_RECORDS_PER_EVENT) {
      rejected.push({ index, reason: `more than ${MAX_SNS_RECORDS_PER_EVENT} records in one SNS event` });
      return;
    }
    const parsed = recordSchema().safeParse(record);
    if (!parsed.success) {
      const why = describeIssues(parsed.error, "", ": ");
      rejected.push({ index, reason: `not an SNS record (${why})` });
      return;
    }
    const { Sns } = parsed.data;
    notifications.push({ messageId: Sns.MessageId, topicArn: Sns.TopicArn, message: Sns.Message });
  });
  return { notifications, rejected };
}

const envelopeSchema = builtOnFirstUse(() =>
  z.object({
    Type: z.literal("Notification"),
    MessageId: z.string().min(1),
    TopicArn: z.string().min(1),
    Subject: z.string().nullish(),
    Message: z.string(),
    Timestamp: z.string(),
    SignatureVersion: z.string().optional(),
    Signature: z.string().optional(),
    SigningCertURL: z.string().optional(),
    UnsubscribeURL: z.string().optional(),
    MessageAttributes: z.record(z.string(), z.object({ Type: z.string(), Value: z.string() })).optional(),
  }),
);

/** An SNS envelope (the JSON body of a non-raw SQS delivery) as the event Lambda would receive for it. */
export function snsEventFromEnvelope(body: string, subscriptionArn: string) {
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    throw new ProtocolError("invalid-event", "The SNS envelope is not JSON.", body);
  }
  const parsed = envelopeSchema().safeParse(value);
  if (!parsed.success) {
    throw new ProtocolError("invalid-event", `Not an SNS notification envelope: ${parsed.error.issues[0]?.message ?? ""}.`, body);
  }
  const e = parsed.data;
  return {
    Records: [
      {
        EventSource: "aws:sns" as const,
        EventVersion: "1.0",
        EventSubscriptionArn: subscriptionArn,
        Sns: {
          Type: e.Type,
          MessageId: e.MessageId,
          TopicArn: e.TopicArn,
          Subject: e.Subject ?? null,
          Message: e.Message,
          Timestamp: e.Timestamp,
          SignatureVersion: e.SignatureVersion ?? "1",
          Signature: e.Signature ?? "",
          SigningCertUrl: e.SigningCertURL ?? "",
          UnsubscribeUrl: e.UnsubscribeURL ?? "",
          MessageAttributes: e.MessageAttributes ?? {},
        },
      },
    ],
  };
}
