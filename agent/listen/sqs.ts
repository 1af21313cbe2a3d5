import { ListSubscriptionsCommand, SNSClient, SubscribeCommand, UnsubscribeCommand } from "@aws-sdk/client-sns";
import {
  CreateQueueCommand,
  DeleteMessageBatchCommand,
  DeleteQueueCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  QueueDoesNotExist,
  ReceiveMessageCommand,
  SetQueueAttributesCommand,
  SQSClient,
} from "@aws-sdk/client-sqs";
import { CONNECT_TIMEOUT_MS, IDLE_TIMEOUT_MS } from "../../objectstore/index.ts";
import { type ChangeMessage, decodeChangeMessage, type RemoteLocation } from "../../protocol/index.ts";
import { Backoff } from "../backoff.ts";
import { isRelevant, type ChangeListener } from "./listener.ts";

/**
 * Without a stack (a bucket set up by hand, credentials that may create queues): the agent's own SQS queue, subscribed to the change topic (raw delivery, filtered to this repository
 * by the `repo` message attribute), read by long polls of 20 s: an idle agent makes three SQS requests a
 * minute and none to S3. The queue and subscription are created on start (both calls are idempotent),
 * with a policy that lets only the change topic send to it.
 */
export interface SqsListenerOptions {
  topicArn: string;
  agent: string;
  location: RemoteLocation;
  sqs?: SQSClient;
  sns?: SNSClient;
  /** Endpoint, region and credentials of the clients it makes (the folder's). */
  client?: {
    endpoint?: string;
    region?: string;
    credentials?: { accessKeyId: string; secretAccessKey: string } | (() => Promise<{ accessKeyId: string; secretAccessKey: string }>);
  };
  /** Long-poll wait (seconds, 1–20). */
  waitSeconds?: number;
  onError?: (error: unknown) => void;
  /** Called after each long poll that worked (the listener is healthy again after errors). */
  onReceive?: () => void;
}

export function queueNameFor(agent: string): string {
  return `cloudbridge-agent-${agent}`;
}

export class SqsListener implements ChangeListener {
  readonly kind = "sqs" as const;
  requests = 0;
  queueUrl: string | undefined;
  private readonly options: SqsListenerOptions;
  private readonly sqs: SQSClient;
  private readonly sns: SNSClient;
  private readonly abort = new AbortController();
  private loop: Promise<void> | undefined;

  constructor(options: SqsListenerOptions) {
    this.options = options;
    // Queue URLs of emulators name hosts that do not resolve: send to the configured endpoint instead.
    // A silent connection is given up (idle beyond the long poll's own wait), not waited on for ever.
    const requestHandler = { connectionTimeout: CONNECT_TIMEOUT_MS, socketTimeout: IDLE_TIMEOUT_MS + (options.waitSeconds ?? 20) * 1000 };
    this.sqs = options.sqs ?? new SQSClient({ ...options.client, useQueueUrlAsEndpoint: false, requestHandler });
    this.sns = options.sns ?? new SNSClient({ ...options.client, requestHandler });
  }

  async start(onHint: (message: ChangeMessage | undefined) => void): Promise<void> {
    const { QueueUrl } = await this.sqs.send(
      new CreateQueueCommand({ QueueName: queueNameFor(this.options.agent), Attributes: { MessageRetentionPeriod: "86400" } }),
    );
    this.requests += 1;
    if (!QueueUrl) throw new Error("SQS created the agent's queue but returned no URL");
    this.queueUrl = QueueUrl;
    const attributes = await this.sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ["QueueArn"] }));
    const queueArn = attributes.Attributes?.QueueArn;
    if (!queueArn) throw new Error("SQS did not report the agent's queue ARN");
    await this.sqs.send(
      new SetQueueAttributesCommand({
        QueueUrl,
        Attributes: {
          Policy: JSON.stringify({
            Version: "2012-10-17",
            Statement: [
              {
                Effect: "Allow",
                Principal: { Service: "sns.amazonaws.com" },
                Action: "sqs:SendMessage",
                Resource: queueArn,
                Condition: { ArnEquals: { "aws:SourceArn": this.options.topicArn } },
              },
            ],
          }),
        },
      }),
    );
    await this.sns.send(
      new SubscribeCommand({
        TopicArn: this.options.topicArn,
        Protocol: "sqs",
        Endpoint: queueArn,
        Attributes: { RawMessageDelivery: "true", FilterPolicy: JSON.stringify({ repo: [this.options.location.repo] }) },
      }),
    );
    this.requests += 3;
    this.loop = this.receive(QueueUrl, onHint);
  }

  private receive(QueueUrl: string, onHint: (message: ChangeMessage | undefined) => void): Promise<void> {
    return readQueue({
      sqs: this.sqs,
      queueUrl: QueueUrl,
      waitSeconds: this.options.waitSeconds ?? 20,
      signal: this.abort.signal,
      requested: () => void (this.requests += 1),
      received: (changes) => {
        const relevant = changes.filter((change) => isRelevant(change, this.options.location, this.options.agent));
        if (relevant.length > 0) onHint(relevant.at(-1));
      },
      working: (recovered) => {
        this.options.onReceive?.();
        if (recovered) onHint(undefined);
      },
      failed: (error) => this.options.onError?.(error),
    });
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await this.loop;
    if (!this.options.sqs) this.sqs.destroy();
    if (!this.options.sns) this.sns.destroy();
  }
}

/**
 * Removes what `SqsListener.start` created for an agent: its subscriptions (to any topic) first, so SNS
 * stops delivering, then the queue `cloudbridge-agent-<agent>`. Needs credentials that may delete them
 * (the administrator's, which created them); an agent's own key from a stack may not. Safe to repeat: a
 * queue that is gone is nothing to remove.
 */
export async function removeAgentQueue(options: {
  agent: string;
  sqs?: SQSClient;
  sns?: SNSClient;
}): Promise<{ queueUrl: string | undefined; subscriptions: string[] }> {
  const sqs = options.sqs ?? new SQSClient({ useQueueUrlAsEndpoint: false });
  const sns = options.sns ?? new SNSClient({});
  try {
    let queueUrl: string | undefined;
    try {
      ({ QueueUrl: queueUrl } = await sqs.send(new GetQueueUrlCommand({ QueueName: queueNameFor(options.agent) })));
    } catch (error) {
      if (error instanceof QueueDoesNotExist || (error as Error).name === "AWS.SimpleQueueService.NonExistentQueue") {
        return { queueUrl: undefined, subscriptions: [] };
      }
      throw error;
    }
    const { Attributes } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ["QueueArn"] }));
    const queueArn = Attributes?.QueueArn;
    if (!queueUrl || !queueArn) throw new Error(`SQS did not report the URL and ARN of the queue ${queueNameFor(options.agent)}`);
    const subscriptions: string[] = [];
    let NextToken: string | undefined;
    do {
      const page = await sns.send(new ListSubscriptionsCommand({ NextToken }));
      for (const subscription of page.Subscriptions ?? []) {
        if (subscription.Protocol === "sqs" && subscription.Endpoint === queueArn && subscription.SubscriptionArn) {
          subscriptions.push(subscription.SubscriptionArn);
        }
      }
      NextToken = page.NextToken;
    } while (NextToken);
    for (const SubscriptionArn of subscriptions) await sns.send(new UnsubscribeCommand({ SubscriptionArn }));
    await sqs.send(new DeleteQueueCommand({ QueueUrl: queueUrl }));
    return { queueUrl, subscriptions };
  } finally {
    if (!options.sqs) sqs.destroy();
    if (!options.sns) sns.destroy();
  }
}

/** A raw-delivered change message, or an SNS envelope around one; undefined for anything else. */
export function parseQueueBody(body: string): ChangeMessage | undefined {
  try {
    const value = JSON.parse(body) as { Type?: string; Message?: string };
    return decodeChangeMessage(value.Type === "Notification" && typeof value.Message === "string" ? value.Message : body);
  } catch {
    return undefined;
  }
}

/** One long-poll loop on an agent's queue (its own, or the stack's): what it tells whoever reads it. */
export interface QueueReading {
  sqs: SQSClient;
  queueUrl: string;
  /** Long-poll wait (seconds, 1–20). */
  waitSeconds: number;
  /** Ends the loop (a receive in flight is aborted). */
  signal: AbortSignal;
  /** Called before each request (the idle-cost figure). */
  requested(): void;
  /** The change messages one receive brought (the others dropped), told before they are deleted: a delete that fails loses nothing heard. */
  received(changes: ChangeMessage[]): void;
  /**
   * A receive worked. `recovered`: one failed before it (or an attempt of its own the SDK retried), so what
   * was announced meanwhile may be lost (a receive whose answer was lost took its messages out of sight for
   * the queue's visibility timeout; a delete whose answer was lost may have removed some): the reader
   * fetches at once to catch up.
   */
  working(recovered: boolean): void;
  failed(error: unknown): void;
}

/**
 * Receives from the queue until `signal` aborts: long polls; each batch told and then deleted; after a
 * failure, waits (growing) and tries again. The first receive after a failure is a short poll, so the
 * queue answering again is known at once, not at the end of a 20 s wait.
 */
export async function readQueue(reading: QueueReading): Promise<void> {
  const backoff = new Backoff(500);
  let failed = false;
  while (!reading.signal.aborted) {
    try {
      reading.requested();
      const { Messages = [], $metadata } = await reading.sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: reading.queueUrl,
          WaitTimeSeconds: failed ? 0 : reading.waitSeconds,
          MaxNumberOfMessages: 10,
        }),
        { abortSignal: reading.signal },
      );
      backoff.reset();
      // An attempt the SDK retried by itself failed too, unseen here: its answer may have carried messages.
      const recovered = failed || ($metadata.attempts ?? 1) > 1;
      failed = false;
      reading.working(recovered);
      if (Messages.length === 0) continue;
      const changes: ChangeMessage[] = [];
      for (const message of Messages) {
        const change = parseQueueBody(message.Body ?? "");
        if (change) changes.push(change);
      }
      reading.received(changes);
      reading.requested();
      await reading.sqs.send(
        new DeleteMessageBatchCommand({
          QueueUrl: reading.queueUrl,
          Entries: Messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle! })),
        }),
      );
    } catch (error) {
      if (reading.signal.aborted) return;
      failed = true;
      reading.failed(error);
      await new Promise((resolve) => setTimeout(resolve, backoff.next()));
    }
  }
}
