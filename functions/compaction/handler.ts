import { Logger } from "@aws-lambda-powertools/logger";
import { SQSClient } from "@aws-sdk/client-sqs";
import { compactRepository } from "../../gitstore/index.ts";
import { IsomorphicGitEngine } from "../../gitstore/isomorphic-engine.ts";
import { createS3Client, isEncryptedRepository, S3ObjectStore } from "../../objectstore/index.ts";
import { BucketLayout, FUNCTION_SERVICE_NAME, parseCompactionEnvironment } from "../../protocol/index.ts";
import { functionMetrics } from "../common/metrics.ts";
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
 * Configuration (set by the stack): `parseCompactionEnvironment` (protocol/deployment.ts); with a queue URL
 * the schedule queues one message per repository there, without one `{}` compacts in-line.
 */
const logger = new Logger({ serviceName: FUNCTION_SERVICE_NAME.compaction });
const metrics = functionMetrics("compaction");

const { bucket, prefix, repos, graceMinutes, queueUrl } = parseCompactionEnvironment(process.env);
const store = new S3ObjectStore(bucket, createS3Client());
const layout = new BucketLayout(prefix);
const engine = new IsomorphicGitEngine();

// The isomorphic engine holds the packs it merges in memory (the combined pack is streamed to disk, then
// indexed): about 5 times their size at its peak (bench/compaction-memory.ts: 256 MiB of packs, 1,233 MiB
// RSS). One run merges at most an eighth of the function's memory in packs (256 MiB at 2 GB); larger
// packs wait for `cloudbridge compact`.
const maxMergeBytes = ((Number(process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE) || 2048) * 1024 * 1024) / 8;
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
    isEncrypted: (repo: string) => isEncryptedRepository(store, layout, repo),
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
