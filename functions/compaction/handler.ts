import { Logger } from "@aws-lambda-powertools/logger";
import { compactRepository } from "../../gitstore/index.ts";
import { IsomorphicGitEngine } from "../../gitstore/isomorphic-engine.ts";
import { createS3Client, S3ObjectStore } from "../../objectstore/s3-object-store.ts";
import { BucketLayout } from "../../protocol/layout.ts";
import { functionMetrics } from "../shared/metrics.ts";
import { runCompaction, type CompactionResult } from "./compact.ts";

/**
 * Lambda entry point: pack compaction, on the stack's schedule and on demand
 * (`aws lambda invoke --function-name <CompactionFunctionName> --payload '{"repo":"photos"}'`).
 * The compaction is gitstore's `compactRepository`, the same code as the agent's `cloudbridge compact`,
 * with isomorphic-git as the engine (Lambda has no git binary).
 * Configuration (set by the stack): BUCKET_NAME, BUCKET_PREFIX, REPOS (comma-separated), COMPACTION_GRACE_MINUTES.
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

export const handler = async (event: unknown): Promise<CompactionResult> => {
  try {
    return await runCompaction(event, {
      repos,
      compact: (repo) =>
        compactRepository({ store, layout, repo, engine, graceMs: graceMinutes * 60_000, log: (line) => logger.info(line, { repo }) }),
      logger,
      count: metrics.count,
    });
  } finally {
    metrics.publish();
  }
};
