import { Logger } from "@aws-lambda-powertools/logger";
import { SNSClient } from "@aws-sdk/client-sns";
import type { S3Event } from "aws-lambda";
import { BucketLayout, FUNCTION_SERVICE_NAME, parseChangeFanoutEnvironment } from "../../protocol/index.ts";
import { snsChangePublisher } from "../common/sns-publisher.ts";
import { functionMetrics } from "../common/metrics.ts";
import { fanOutChanges, type FanoutResult } from "./fanout.ts";

/**
 * Lambda entry point: the bucket events `bucketEventRoutes` names (ObjectCreated under `repos/` and
 * `annex/`) → SNS change topic. Configuration: `parseChangeFanoutEnvironment` (protocol/deployment.ts).
 */
const logger = new Logger({ serviceName: FUNCTION_SERVICE_NAME.changeFanout });
const metrics = functionMetrics("change-fanout");
const sns = new SNSClient({});

export const handler = async (event: S3Event): Promise<FanoutResult> => {
  const { topicArn, prefix } = parseChangeFanoutEnvironment(process.env);
  try {
    return await fanOutChanges(event, {
      layout: new BucketLayout(prefix),
      publish: snsChangePublisher(sns, topicArn),
      logger,
      count: metrics.count,
    });
  } finally {
    metrics.publish();
  }
};
