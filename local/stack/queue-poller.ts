import { DeleteMessageBatchCommand, ReceiveMessageCommand, type Message, type SQSClient } from "@aws-sdk/client-sqs";
import type { LocalFunction } from "../lambda-runtime.ts";

/**
 * An SQS event source mapping as Lambda runs one: pollers long-poll the queue, each batch is one
 * invocation with Lambda's SQS event, and a batch the function completed is deleted — all of it, or with
 * `ReportBatchItemFailures` all but the messages it names. A failed invocation deletes nothing: the
 * messages come back after the queue's visibility timeout, and its redrive policy takes them to the
 * dead-letter queue after maxReceiveCount receives.
 */
export interface QueuePollerOptions {
  sqs: SQSClient;
  queueUrl: string;
  queueArn: string;
  region: string;
  fn: LocalFunction;
  batchSize: number;
  /** ScalingConfig.MaximumConcurrency: how many batches are in flight at once. */
  concurrency: number;
  reportBatchItemFailures: boolean;
  log: (line: string) => void;
}

export function startQueuePoller(options: QueuePollerOptions): { stop(): Promise<void> } {
  const abort = new AbortController();
  const poll = async () => {
    while (!abort.signal.aborted) {
      let messages: Message[];
      try {
        ({ Messages: messages = [] } = await options.sqs.send(
          new ReceiveMessageCommand({
            QueueUrl: options.queueUrl,
            MaxNumberOfMessages: Math.min(options.batchSize, 10),
            WaitTimeSeconds: 1,
            MessageSystemAttributeNames: ["All"],
            MessageAttributeNames: ["All"],
          }),
          { abortSignal: abort.signal },
        ));
      } catch (error) {
        if (abort.signal.aborted) return;
        options.log(`receiving from ${options.queueArn} failed: ${(error as Error).message}`);
        await new Promise((resolve) => setTimeout(resolve, 1000));
        continue;
      }
      if (messages.length === 0) continue;
      const event = { Records: messages.map((message) => record(message, options)) };
      options.log(`invoking ${options.fn.name} with a batch of ${messages.length}: ${messages.map((m) => m.MessageId).join(" ")}`);
      let failed: Set<string>;
      try {
        const result = (await options.fn.invoke(event)) as { batchItemFailures?: { itemIdentifier: string }[] } | undefined;
        failed = new Set(options.reportBatchItemFailures ? (result?.batchItemFailures ?? []).map((f) => f.itemIdentifier) : []);
      } catch (error) {
        options.log(
          `${options.fn.name} failed a batch of ${messages.length}; they return after the visibility timeout: ${(error as Error).message}`,
        );
        continue;
      }
      const done = messages.filter((m) => !failed.has(m.MessageId!));
      if (done.length === 0) continue;
      await options.sqs
        .send(
          new DeleteMessageBatchCommand({
            QueueUrl: options.queueUrl,
            Entries: done.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle! })),
          }),
        )
        .catch((error: unknown) => options.log(`deleting a completed batch failed: ${(error as Error).message}`));
    }
  };
  const pollers = Array.from({ length: Math.max(1, options.concurrency) }, () => poll());
  return {
    stop: async () => {
      abort.abort();
      await Promise.all(pollers);
    },
  };
}

/** One message as Lambda's SQS event carries it. */
function record(message: Message, options: QueuePollerOptions) {
  return {
    messageId: message.MessageId!,
    receiptHandle: message.ReceiptHandle!,
    body: message.Body ?? "",
    attributes: message.Attributes ?? {},
    messageAttributes: message.MessageAttributes ?? {},
    md5OfBody: message.MD5OfBody ?? "",
    eventSource: "aws:sqs",
    eventSourceARN: options.queueArn,
    awsRegion: options.region,
  };
}
