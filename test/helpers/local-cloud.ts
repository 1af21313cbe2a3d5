import { S3Client } from "@aws-sdk/client-s3";
import { SNSClient, SubscribeCommand } from "@aws-sdk/client-sns";
import { CreateQueueCommand, GetQueueAttributesCommand, SQSClient } from "@aws-sdk/client-sqs";
import { LOCAL_CREDENTIALS, startLocalCloud, type LocalCloud, type LocalCloudOptions } from "../../local/cloud.ts";

/** A local cloud for one test file, with SDK clients pointed at it the way an agent would be configured. */
export interface TestCloud {
  cloud: LocalCloud;
  s3: S3Client;
  sns: SNSClient;
  sqs: SQSClient;
  stop(): Promise<void>;
}

export async function startTestCloud(options: LocalCloudOptions = {}): Promise<TestCloud> {
  const cloud = await startLocalCloud({ port: 0, ...options });
  const common = { region: cloud.region, endpoint: cloud.endpoint, credentials: LOCAL_CREDENTIALS };
  const s3 = new S3Client({ ...common, forcePathStyle: true });
  const sns = new SNSClient(common);
  const sqs = new SQSClient({ ...common, useQueueUrlAsEndpoint: false });
  return {
    cloud,
    s3,
    sns,
    sqs,
    stop: async () => {
      s3.destroy();
      sns.destroy();
      sqs.destroy();
      await cloud.stop();
    },
  };
}

/** A new queue subscribed to the cloud's change topic, with raw delivery as the stack's agent queues have it. */
export async function subscribeQueue(t: TestCloud, name: string): Promise<string> {
  const { QueueUrl } = await t.sqs.send(new CreateQueueCommand({ QueueName: name }));
  const { Attributes } = await t.sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ["QueueArn"] }));
  await t.sns.send(
    new SubscribeCommand({
      TopicArn: t.cloud.topicArn,
      Protocol: "sqs",
      Endpoint: Attributes!.QueueArn,
      Attributes: { RawMessageDelivery: "true" },
    }),
  );
  return QueueUrl!;
}
