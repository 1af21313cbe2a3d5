import { validateChangeMessage, type ChangeMessage } from "./change-message.ts";
import type { BucketLayout } from "./layout.ts";
import type { S3Change } from "./s3-event.ts";

/**
 * Which S3 changes are worth telling the agents about: the refs index (`info/refs`, format 3) was written,
 * a ref file of a format 1 or 2 repository moved or was deleted (shared or an agent's synced ref), or annexed content arrived. A deleted ref's message carries no ETag or size. Packs, indexes and info files are written before the ref that needs them, so
 * the ref's event is the one that says "there is something new"; everything else is not a change.
 * Returns undefined for such keys. Throws ProtocolError for keys that are malformed.
 */
export function changeMessageFromS3(change: S3Change, layout: BucketLayout): ChangeMessage | undefined {
  const removed = change.eventName.startsWith("ObjectRemoved:");
  if (!change.eventName.startsWith("ObjectCreated:") && !removed) return undefined;
  const parsed = layout.parse(change.key);
  if (removed && parsed.kind !== "ref" && parsed.kind !== "synced-ref") return undefined;
  const common = {
    v: 1 as const,
    bucket: change.bucket,
    ...(layout.prefix ? { prefix: layout.prefix } : {}),
    ...(change.etag !== undefined && !removed ? { etag: change.etag.replaceAll('"', "") } : {}),
    ...(change.size !== undefined && !removed ? { size: change.size } : {}),
    ...(change.sequencer !== undefined ? { seq: change.sequencer } : {}),
    at: change.time,
  };
  switch (parsed.kind) {
    case "ref":
      return validateChangeMessage({ ...common, repo: parsed.repo, kind: "refs", ref: parsed.ref });
    case "synced-ref":
      return validateChangeMessage({ ...common, repo: parsed.repo, kind: "refs", ref: parsed.ref, by: parsed.agent });
    case "info-refs":
      return validateChangeMessage({ ...common, repo: parsed.repo, kind: "refs" });
    case "annex-object":
      return validateChangeMessage({ ...common, repo: parsed.repo, kind: "content", key: parsed.key });
    default:
      return undefined;
  }
}
