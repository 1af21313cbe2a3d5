import { S3Client } from "@aws-sdk/client-s3";
import { SNSClient } from "@aws-sdk/client-sns";
import { SQSClient } from "@aws-sdk/client-sqs";
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
