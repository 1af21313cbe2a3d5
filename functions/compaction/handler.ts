import { Logger } from "@aws-lambda-powertools/logger";
import { SQSClient } from "@aws-sdk/client-sqs";
import { compactRepository } from "../../gitstore/compaction.ts";
import { IsomorphicGitEngine } from "../../gitstore/isomorphic-engine.ts";
import { createS3Client, S3ObjectStore } from "../../objectstore/s3-object-store.ts";
import { BucketLayout } from "../../protocol/layout.ts";
import { functionMetrics } from "../shared/metrics.ts";
import { runCompaction, type CompactionResult } from "./compact.ts";
import {
  isQueueEvent,
  planCompaction,
  repositoriesToCompact,
  runQueuedCompaction,
  sqsCompactionQueue,
  type QueuedCompactionResult,
} from "./fan-out.ts";

/**
 * Lambda entry point: pack compaction, on the stack's schedule and on demand
 * (`aws lambda invoke --function-name <CompactionFunctionName> --payload '{"repo":"photos"}'`).
 * The compaction is gitstore's `compactRepository`, the same code as the agent's `cloudbridge compact`,
 * with isomorphic-git as the engine (Lambda has no git binary).
 * Configuration (set by the stack): BUCKET_NAME, BUCKET_PREFIX, REPOS (comma-separated), COMPACTION_GRACE_MINUTES,
 * COMPACTION_QUEUE_URL (the schedule queues one message per repository there; without it, `{}` compacts in-line).
 */
const logger = new Logger({ serviceName: "cloudbridge-compaction" });
const metrics = functionMetrics("compaction");

const bucket = process.env.BUCKET_NAME;
if (!bucket) throw new Error("BUCKET_NAME is not set: the stack must pass the bucket's name.");
const graceMinutes = Number(process.env.COMPACTION_GRACE_MINUTES ?? "60");
if (!Number.isFinite(graceMinutes) || graceMinutes < 0) {
  throw new Error(`COMPACTION_GRACE_MINUTES=${JSON.stringify(process.env.COMPACTION_GRACE_MINUTES)} is not a number of minutes.`);
}
const repos = (process.env.REPOS ?? "").split(",").filter(Boolean);
const store = new S3ObjectStore(bucket, createS3Client());
const layout = new BucketLayout(process.env.BUCKET_PREFIX);
const engine = new IsomorphicGitEngine();

// The isomorphic engine holds the packs it merges, and the result, in memory: merge at most a quarter of
// the function's memory in packs per run (bench/compaction-memory.ts measures the ratio).
const maxMergeBytes = ((Number(process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE) || 2048) * 1024 * 1024) / 4;
const queueUrl = process.env.COMPACTION_QUEUE_URL;
const queue = queueUrl ? sqsCompactionQueue(new SQSClient({ useQueueUrlAsEndpoint: false }), queueUrl) : undefined;

export const handler = async (
  event: unknown,
): Promise<CompactionResult | QueuedCompactionResult | { queued: string[]; skipped: string[] }> => {
  const deps = {
    repos,
    compact: (repo: string) =>
      compactRepository({
        store,
        layout,
        repo,
        engine,
        graceMs: graceMinutes * 60_000,
        maxMergeBytes,
        log: (line) => logger.info(line, { repo }),
      }),
    logger,
    count: metrics.count,
  };
  try {
    // One invocation per repository: the compaction queue's messages, one each (fan-out.ts).
    if (isQueueEvent(event)) return await runQueuedCompaction(event, deps);
    const single = typeof event === "object" && event !== null && "repo" in event;
    if (queue && !single) {
      return await planCompaction(event, { repos: () => repositoriesToCompact(store, layout, repos), configured: repos, queue, logger });
    }
    return await runCompaction(event, deps);
  } finally {
    metrics.publish();
  }
};
