import type { Logger } from "@aws-lambda-powertools/logger";
import { type BucketLayout, type ChangeMessage, changeMessageFromS3, parseS3Event } from "../../protocol/index.ts";

/** Where messages go: SNS in the cloud and in `cloudbridge local`, an array in unit tests. */
export type PublishChanges = (messages: ChangeMessage[]) => Promise<void>;

export interface FanoutDeps {
  readonly layout: BucketLayout;
  readonly publish: PublishChanges;
  readonly logger: Pick<Logger, "info" | "warn" | "debug">;
  /** Counts what was published, ignored and skipped (Powertools Metrics on Lambda). */
  readonly count?: (metric: "ChangesPublished" | "RecordsIgnored" | "RecordsSkipped", value: number) => void;
}

export interface FanoutResult {
  published: number;
  ignored: number;
  skipped: number;
}

/**
 * S3 event → one change message per ref or content change. A record that cannot be understood is logged
 * and skipped (counted in `RecordsSkipped`) and never stops the rest of the batch: an S3 event is
 * delivered once per object and a failed batch would be retried whole, repeating the good records.
 * Keys that are valid but not changes (packs, info files) are ignored.
 */
export async function fanOutChanges(event: unknown, deps: FanoutDeps): Promise<FanoutResult> {
  const { logger } = deps;
  let parsed;
  try {
    parsed = parseS3Event(event);
  } catch (error) {
    logger.warn("event skipped: not an S3 event", { reason: (error as Error).message });
    deps.count?.("RecordsSkipped", 1);
    return { published: 0, ignored: 0, skipped: 1 };
  }
  for (const { index, reason } of parsed.rejected) {
    logger.warn("record skipped", { index, reason });
  }
  let skipped = parsed.rejected.length;
  let ignored = 0;
  const messages: ChangeMessage[] = [];
  // The same record twice in one event (a replayed or forged batch) is one change. Across invocations a
  // duplicate delivery produces byte-identical messages, which receivers recognise by repo, ref/key and
  // seq; a change handled twice costs a receiver one needless look at the bucket, never a wrong state.
  const seen = new Set<string>();
  for (const change of parsed.changes) {
    const identity = `${change.bucket}\0${change.key}\0${change.sequencer ?? change.etag ?? change.time}`;
    if (seen.has(identity)) {
      ignored += 1;
      continue;
    }
    seen.add(identity);
    try {
      const message = changeMessageFromS3(change, deps.layout);
      if (message) messages.push(message);
      else ignored += 1;
    } catch (error) {
      skipped += 1;
      logger.warn("record skipped: key outside the layout", { key: change.key, reason: (error as Error).message });
    }
  }
  if (messages.length > 0) await deps.publish(messages);
  logger.info("changes fanned out", { published: messages.length, ignored, skipped });
  deps.count?.("ChangesPublished", messages.length);
  deps.count?.("RecordsIgnored", ignored);
  deps.count?.("RecordsSkipped", skipped);
  return { published: messages.length, ignored, skipped };
}
