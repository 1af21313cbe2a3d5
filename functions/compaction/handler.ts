import { Logger } from "@aws-lambda-powertools/logger";
import { compactRepository } from "../../gitstore/index.ts";
import { IsomorphicGitEngine } from "../../gitstore/isomorphic-engine.ts";
import { createS3Client, isEncryptedRepository, S3ObjectStore } from "../../objectstore/index.ts";
import { BucketLayout, FUNCTION_SERVICE_NAME, parseCompactionEnvironment } from "../../protocol/index.ts";
import { functionMetrics } from "../shared/metrics.ts";
import { runCompaction, type CompactionResult } from "./compact.ts";

/**
 * Lambda entry point: pack compaction, on the stack's schedule and on demand
 * (`aws lambda invoke --function-name <CompactionFunctionName> --payload '{"repo":"photos"}'`).
 * The compaction is gitstore's `compactRepository`, the same code as the agent's `cloudbridge compact`,
 * with isomorphic-git as the engine (Lambda has no git binary).
 * Configuration (set by the stack): `parseCompactionEnvironment` (protocol/deployment.ts).
 */
const logger = new Logger({ serviceName: FUNCTION_SERVICE_NAME.compaction });
const metrics = functionMetrics("compaction");

const { bucket, prefix, repos, graceMinutes } = parseCompactionEnvironment(process.env);
const store = new S3ObjectStore(bucket, createS3Client());
const layout = new BucketLayout(prefix);
const engine = new IsomorphicGitEngine();

export const handler = async (event: unknown): Promise<CompactionResult> => {
  try {
    return await runCompaction(event, {
      repos,
      compact: (repo) =>
        compactRepository({ store, layout, repo, engine, graceMs: graceMinutes * 60_000, log: (line) => logger.info(line, { repo }) }),
      isEncrypted: (repo) => isEncryptedRepository(store, layout, repo),
      logger,
      count: metrics.count,
    });
  } finally {
    metrics.publish();
  }
};
