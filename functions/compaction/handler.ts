import { Logger } from "@aws-lambda-powertools/logger";
import { Metrics, MetricUnit } from "@aws-lambda-powertools/metrics";
import { runCompaction, type CompactionResult } from "./compact.ts";

/**
 * Lambda entry point: pack compaction, on the stack's schedule and on demand
 * (`aws lambda invoke --function-name <CompactionFunctionName> --payload '{"repo":"photos"}'`).
 * Configuration: BUCKET_NAME, BUCKET_PREFIX, REPOS (comma-separated), COMPACTION_GRACE_MINUTES.
 *
 * The compaction itself is gitstore's, shared with the agent's `cloudbridge compact`; until it is on
 * main this function validates requests and reports each repository as not compacted.
 */
const logger = new Logger({ serviceName: "cloudbridge-compaction" });
const metrics = new Metrics({ namespace: "cloudbridge", serviceName: "compaction" });
const repos = (process.env.REPOS ?? "").split(",").filter(Boolean);

export const handler = async (event: unknown): Promise<CompactionResult> => {
  try {
    return await runCompaction(event, {
      repos,
      compact: async () => {
        throw new Error("pack compaction (gitstore/compaction.ts) is not in this build yet");
      },
      logger,
      count: (name, value) => metrics.addMetric(name, MetricUnit.Count, value),
    });
  } finally {
    metrics.publishStoredMetrics();
  }
};
