import { Logger } from "@aws-lambda-powertools/logger";
import { SNSClient } from "@aws-sdk/client-sns";
import type { S3Event } from "aws-lambda";
import { BucketLayout } from "../../protocol/layout.ts";
import { snsChangePublisher } from "../shared/sns-publisher.ts";
import { functionMetrics } from "../shared/metrics.ts";
import { fanOutChanges, type FanoutResult } from "./fanout.ts";

/**
 * Lambda entry point: S3 ObjectCreated events under `repos/` and `annex/` → SNS change topic.
 * Configuration: CHANGE_TOPIC_ARN (required), BUCKET_PREFIX (optional).
 */
const logger = new Logger({ serviceName: "cloudbridge-change-fanout" });
const metrics = functionMetrics("change-fanout");
const sns = new SNSClient({});

export const handler = async (event: S3Event): Promise<FanoutResult> => {
  const topicArn = process.env.CHANGE_TOPIC_ARN;
  if (!topicArn) throw new Error("CHANGE_TOPIC_ARN is not set: the stack must pass the change topic's ARN.");
  try {
    return await fanOutChanges(event, {
      layout: new BucketLayout(process.env.BUCKET_PREFIX),
      publish: snsChangePublisher(sns, topicArn),
      logger,
      count: metrics.count,
    });
  } finally {
    metrics.publish();
  }
};
