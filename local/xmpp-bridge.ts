import {
  ChangeMessageVisibilityCommand,
  CreateQueueCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SQSClient,
} from "@aws-sdk/client-sqs";
import { SNSClient, SubscribeCommand } from "@aws-sdk/client-sns";
import { snsEventFromEnvelope } from "../protocol/index.ts";
import { LocalCloudError } from "./errors.ts";
import type { LocalFunction } from "./lambda-runtime.ts";

/**
 * SNS → Lambda, which fauxqs cannot do (it delivers only to SQS and HTTP): an internal SQS queue is
 * subscribed to the change topic, and each SNS envelope that arrives there is handed to the real XMPP
 * function as the SNS event Lambda would build from it. As on AWS, a failed invocation is retried twice
 * (the message becomes visible again), then the event goes to a dead-letter queue.
 */
export interface XmppBridge {
  readonly queueUrl: string;
  readonly deadLetterQueueUrl: string;
  stop(): Promise<void>;
}

export const XMPP_QUEUE_NAME = "cloudbridge-xmpp-fanout-events";
export const XMPP_DEAD_LETTER_QUEUE_NAME = "cloudbridge-xmpp-fanout-dlq";
/** One invocation and Lambda's two retries of an asynchronous event. */
const ATTEMPTS = 3;

export async function startXmppBridge(options: {
  endpoint: string;
  region: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
  topicArn: string;
  fn: LocalFunction;
  log: (line: string) => void;
  /** Pause before a failed event is tried again. */
  retryDelaySeconds?: number;
}): Promise<XmppBridge> {
  const common = { region: options.region, endpoint: options.endpoint, credentials: options.credentials };
  const sqs = new SQSClient({ ...common, useQueueUrlAsEndpoint: false });
  const sns = new SNSClient(common);
  try {
    const { QueueUrl: deadLetterQueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: XMPP_DEAD_LETTER_QUEUE_NAME }));
    const dlq = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: deadLetterQueueUrl, AttributeNames: ["QueueArn"] }));
    const { QueueUrl: queueUrl } = await sqs.send(
      new CreateQueueCommand({
        QueueName: XMPP_QUEUE_NAME,
        Attributes: {
          // Longer than an invocation may take (the function's timeout), so a slow invocation is not run twice.
          VisibilityTimeout: "60",
          RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlq.Attributes?.QueueArn, maxReceiveCount: ATTEMPTS }),
        },
      }),
    );
    const queue = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ["QueueArn"] }));
    const { SubscriptionArn: subscriptionArn } = await sns.send(
      new SubscribeCommand({ TopicArn: options.topicArn, Protocol: "sqs", Endpoint: queue.Attributes?.QueueArn }),
    );
    if (!queueUrl || !deadLetterQueueUrl || !subscriptionArn) {
      throw new LocalCloudError("local-emulator-incomplete", "the emulator did not create the XMPP event queue");
    }

    const stopping = new AbortController();
    const loop = (async () => {
      while (!stopping.signal.aborted) {
        let received;
        try {
          received = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 1, WaitTimeSeconds: 20 }), {
            abortSignal: stopping.signal,
          });
        } catch (error) {
          if (stopping.signal.aborted) return;
          options.log(`XMPP event queue: ${(error as Error).message}`);
          await new Promise((resolve) => setTimeout(resolve, 500));
          continue;
        }
        for (const message of received.Messages ?? []) {
          try {
            await options.fn.invoke(snsEventFromEnvelope(message.Body ?? "", subscriptionArn));
            await sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: message.ReceiptHandle }));
          } catch (error) {
            // Left in the queue, visible again after the retry delay; after the last attempt the queue's
            // redrive policy moves it to the dead-letter queue.
            options.log(`XMPP function failed (the event will be retried, then dead-lettered): ${(error as Error).message}`);
            await sqs
              .send(
                new ChangeMessageVisibilityCommand({
                  QueueUrl: queueUrl,
                  ReceiptHandle: message.ReceiptHandle,
                  VisibilityTimeout: options.retryDelaySeconds ?? 1,
                }),
              )
              .catch(() => {});
          }
        }
      }
    })();

    return {
      queueUrl,
      deadLetterQueueUrl,
      stop: async () => {
        stopping.abort();
        await loop;
        sqs.destroy();
        sns.destroy();
      },
    };
  } catch (error) {
    sqs.destroy();
    sns.destroy();
    throw error;
  }
}
