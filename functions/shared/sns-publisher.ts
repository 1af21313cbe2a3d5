import { PublishBatchCommand, type SNSClient } from "@aws-sdk/client-sns";
import { encodeChangeMessage, type ChangeMessage } from "../../protocol/change-message.ts";

const SNS_BATCH_LIMIT = 10;

/**
 * Publishes change messages to the change topic, ten per PublishBatch call. The repo and kind travel as
 * message attributes too, so a subscription can filter (one agent's queue hears only its repos).
 */
export function snsChangePublisher(sns: SNSClient, topicArn: string) {
  return async (messages: ChangeMessage[]): Promise<void> => {
    for (let start = 0; start < messages.length; start += SNS_BATCH_LIMIT) {
      const batch = messages.slice(start, start + SNS_BATCH_LIMIT);
      const result = await sns.send(
        new PublishBatchCommand({
          TopicArn: topicArn,
          PublishBatchRequestEntries: batch.map((message, i) => ({
            Id: String(start + i),
            Message: encodeChangeMessage(message),
            MessageAttributes: {
              repo: { DataType: "String", StringValue: message.repo },
              kind: { DataType: "String", StringValue: message.kind },
            },
          })),
        }),
      );
      if (result.Failed && result.Failed.length > 0) {
        const first = result.Failed[0]!;
        throw new Error(
          `SNS refused ${result.Failed.length} of ${batch.length} change messages (first: ${first.Code} ${first.Message ?? ""})`,
        );
      }
    }
  };
}
