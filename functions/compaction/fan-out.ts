import { SendMessageBatchCommand, type SQSClient } from "@aws-sdk/client-sqs";
import type { ObjectStore } from "../../objectstore/index.ts";
import { assertRepoName, type BucketLayout } from "../../protocol/index.ts";
import { requestedRepos, type CompactionDeps } from "./compact.ts";

/**
 * Compaction fans out: the schedule's invocation only lists the repositories and queues one message per
 * repository on the compaction queue; the queue invokes the function once per message, so each
 * repository gets its own invocation (its own 15 minutes and memory), a failure retries only that
 * repository (then dead-letters it), and no list is too long to finish — nothing is skipped.
 */
export interface CompactionQueue {
  /** Queues one message `{"repo":"<name>"}` per repository. */
  enqueue(repos: readonly string[]): Promise<void>;
}

export function sqsCompactionQueue(client: SQSClient, queueUrl: string): CompactionQueue {
  return {
    async enqueue(repos) {
      for (let start = 0; start < repos.length; start += 10) {
        const batch = repos.slice(start, start + 10);
        let entries = batch.map((repo, i) => ({ Id: String(i), MessageBody: JSON.stringify({ repo }) }));
        // SQS may refuse single entries of a batch (throttling): send those again, a few times.
        for (let attempt = 0; entries.length > 0; attempt++) {
          const { Failed = [] } = await client.send(new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: entries }));
          if (Failed.length === 0) break;
          if (attempt === 4)
            throw new Error(
              `Could not queue compaction of ${Failed.map((f) => batch[Number(f.Id)]).join(", ")}: ${Failed[0]!.Message ?? ""}`,
            );
          const failed = new Set(Failed.map((f) => f.Id));
          entries = entries.filter((entry) => failed.has(entry.Id));
          await new Promise((resolve) => setTimeout(resolve, 100 * 2 ** attempt));
        }
      }
    },
  };
}

/** The configured repositories and every repository the bucket holds (`<prefix>repos/<name>.git/`), each once. */
export async function repositoriesToCompact(store: ObjectStore, layout: BucketLayout, configured: readonly string[]): Promise<string[]> {
  const listed = (await store.listPrefixes(layout.reposRoot())).map((root) => layout.repoOfRoot(root)).filter((repo) => repo !== undefined);
  return [...new Set([...configured, ...listed])];
}

interface QueueRecord {
  messageId: string;
  body: string;
  eventSource: string;
}

/** An SQS event, as Lambda's event source mapping delivers the compaction queue's messages. */
export function isQueueEvent(event: unknown): event is { Records: QueueRecord[] } {
  const records = (event as { Records?: unknown } | null)?.Records;
  return Array.isArray(records) && records.length > 0 && records.every((r) => (r as QueueRecord | null)?.eventSource === "aws:sqs");
}

export interface QueuedCompactionResult {
  compacted: string[];
  /** Messages to be delivered again (Lambda's partial batch response): SQS retries only those, then dead-letters them. */
  batchItemFailures: { itemIdentifier: string }[];
}

/**
 * Compacts the repository each queued message names. A message that is not a compaction of a repository
 * is logged and dropped (retrying it cannot help); a failed compaction is reported as a batch item
 * failure, so only that message comes back.
 */
export async function runQueuedCompaction(event: { Records: QueueRecord[] }, deps: CompactionDeps): Promise<QueuedCompactionResult> {
  const result: QueuedCompactionResult = { compacted: [], batchItemFailures: [] };
  for (const record of event.Records) {
    let repo: string;
    try {
      const { repo: name } = JSON.parse(record.body) as { repo?: unknown };
      repo = assertRepoName(name as string);
    } catch (error) {
      deps.logger.warn("compaction message dropped", { messageId: record.messageId, reason: (error as Error).message });
      deps.count?.("RequestsSkipped", 1);
      continue;
    }
    try {
      const report = await deps.compact(repo);
      result.compacted.push(repo);
      deps.count?.("ReposCompacted", 1);
      deps.count?.("PacksMerged", report.merged.length);
      deps.count?.("PacksDeleted", report.deleted.length);
      deps.logger.info("repository compacted", {
        repo,
        published: report.published,
        merged: report.merged.length,
        deleted: report.deleted.length,
      });
    } catch (error) {
      deps.count?.("CompactionFailures", 1);
      deps.logger.error("compaction failed", { repo, reason: (error as Error).message });
      result.batchItemFailures.push({ itemIdentifier: record.messageId });
    }
  }
  return result;
}

/**
 * The schedule's invocation (or `{}`, or `{"repos":[...]}`): which repositories to compact, queued one
 * message each. A request naming repositories is checked as an on-demand one is (names outside the stack
 * are skipped with a reason); the schedule and `{}` take every repository (`repositoriesToCompact`).
 */
export async function planCompaction(
  event: unknown,
  deps: { repos: () => Promise<string[]>; configured: readonly string[]; queue: CompactionQueue; logger: CompactionDeps["logger"] },
): Promise<{ queued: string[]; skipped: string[] }> {
  const request = event as Record<string, unknown> | null;
  const named = request !== null && typeof request === "object" && Array.isArray(request.repos) && Object.keys(request).length === 1;
  const { repos, skipped } = named
    ? requestedRepos({ repos: (request.repos as unknown[]).slice(0) }, deps.configured, { limit: Infinity })
    : { repos: await deps.repos(), skipped: [] };
  for (const reason of skipped) deps.logger.warn("compaction request skipped", { reason });
  await deps.queue.enqueue(repos);
  deps.logger.info("compaction queued", { repos: repos.length });
  return { queued: repos, skipped };
}
