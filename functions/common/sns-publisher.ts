import { PublishBatchCommand, type SNSClient } from "@aws-sdk/client-sns";
import { type ChangeMessage, encodeChangeMessage } from "../../protocol/index.ts";
import { FunctionError } from "./errors.ts";

const SNS_BATCH_LIMIT = 10;

/**
 * Publishes change messages to the change topic, ten per PublishBatch call. The repo and kind travel as
 * message attributes too, so a subscription can filter (one agent's queue hears only its repos).
 */
export function snsChangePublisher(sns: SNSClient, topicArn: string, options: { attempts?: number } = {}) {
  const attempts = options.attempts ?? 3;
  return async (messages: ChangeMessage[]): Promise<void> => {
    for (let start = 0; start < messages.length; start += SNS_BATCH_LIMIT) {
      let pending = messages.slice(start, start + SNS_BATCH_LIMIT).map((message, i) => ({ id: String(start + i), message }));
      for (let attempt = 1; pending.length > 0; attempt += 1) {
        const result = await sns.send(
          new PublishBatchCommand({
            TopicArn: topicArn,
            PublishBatchRequestEntries: pending.map(({ id, message }) => ({
              Id: id,
              Message: encodeChangeMessage(message),
              MessageAttributes: {
                repo: { DataType: "String", StringValue: message.repo },
                kind: { DataType: "String", StringValue: message.kind },
              },
            })),
          }),
        );
        const failed = result.Failed ?? [];
        if (failed.length === 0) break;
        // Only the refused entries are sent again: retrying the whole event would publish the others twice.
        const retryable = failed.every((f) => !f.SenderFault);
        if (!retryable || attempt >= attempts) {
          const first = failed[0]!;
          throw new FunctionError(
            "sns-publish-refused",
            `SNS refused ${failed.length} of ${pending.length} change messages after ${attempt} attempt(s) (first: ${first.Code} ${first.Message ?? ""})`,
          );
        }
        const failedIds = new Set(failed.map((f) => f.Id));
        pending = pending.filter(({ id }) => failedIds.has(id));
        await new Promise((resolve) => setTimeout(resolve, 50 * 2 ** attempt));
      }
    }
  };
}
