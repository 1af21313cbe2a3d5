import type { Logger } from "@aws-lambda-powertools/logger";
import type { CompactionReport } from "../../gitstore/index.ts";
import { assertRepoName } from "../../protocol/index.ts";
import { FunctionError } from "../common/errors.ts";

/** What one repository's compaction did: gitstore's report. */
export type RepoCompaction = CompactionReport;

export type CompactionMetric = "ReposCompacted" | "PacksMerged" | "PacksDeleted" | "CompactionFailures" | "RequestsSkipped";

export interface CompactionDeps {
  /** The repositories this stack serves; the function's IAM policy reaches no others. */
  readonly repos: readonly string[];
  readonly compact: (repo: string) => Promise<RepoCompaction>;
  /** Whether a repository is encrypted: its packs cannot be read here (no key is ever in the cloud), so it is skipped. */
  readonly isEncrypted?: (repo: string) => Promise<boolean>;
  readonly logger: Pick<Logger, "info" | "warn" | "error">;
  readonly count?: (metric: CompactionMetric, value: number) => void;
}

export interface CompactionResult {
  compacted: Record<string, RepoCompaction>;
  failed: Record<string, string>;
  skipped: string[];
}

/** More repositories than this are not compacted in one invocation: the schedule queues one message per repository instead (fan-out.ts). */
export const MAX_REPOS_PER_REQUEST = 100;

/**
 * Which repositories a request names:
 * - `{"repo":"photos"}` or `{"repos":["photos","notes"]}` (on demand, `aws lambda invoke`, and the stack's schedule);
 * - an EventBridge scheduled event or `{}`: every configured repository.
 * Names that are malformed or not served by this stack are skipped with a reason, never used as keys.
 */
export function requestedRepos(
  event: unknown,
  configured: readonly string[],
  options: { limit?: number } = {},
): { repos: string[]; skipped: string[] } {
  const limit = options.limit ?? MAX_REPOS_PER_REQUEST;
  if (typeof event !== "object" || event === null || Array.isArray(event)) {
    return { repos: [], skipped: [`the request is not a JSON object: send {"repo":"<name>"} or {"repos":[...]}`] };
  }
  const request = event as Record<string, unknown>;
  const keys = Object.keys(request);
  const scheduled = request.source === "aws.events" && request["detail-type"] === "Scheduled Event";
  let names: unknown[];
  if (scheduled || keys.length === 0) names = [...configured];
  else if (keys.length === 1 && keys[0] === "repo") names = [request.repo];
  else if (keys.length === 1 && keys[0] === "repos") {
    if (!Array.isArray(request.repos)) return { repos: [], skipped: ['"repos" is not a list of repository names'] };
    names = request.repos;
  } else {
    const shown = JSON.stringify(keys.slice(0, 5));
    return { repos: [], skipped: [`not a compaction request (keys ${shown}): send {"repo":"<name>"}, {"repos":[...]} or {} for all`] };
  }

  const repos: string[] = [];
  const skipped: string[] = [];
  names.forEach((name, index) => {
    if (index >= limit) {
      skipped.push(`${JSON.stringify(name)}: more than ${limit} repositories in one request (the schedule queues each repository instead)`);
      return;
    }
    try {
      const repo = assertRepoName(name as string);
      if (!configured.includes(repo)) skipped.push(`"${repo}": not a repository of this stack (${configured.join(", ")})`);
      else if (!repos.includes(repo)) repos.push(repo);
    } catch (error) {
      skipped.push((error as Error).message);
    }
  });
  return { repos, skipped };
}

/**
 * Compacts each requested repository in turn. One repository's failure does not stop the others; the
 * invocation fails at the end if any did, so Lambda retries it (compaction is safe to repeat) and then
 * keeps the event in the dead-letter queue.
 */
/**
 * The reason an encrypted repository is not compacted here (logged), or undefined: no key is ever in the
 * cloud, so its packs are compacted by one of its machines (agent/compaction-duty.ts).
 */
export async function skipEncrypted(repo: string, deps: Pick<CompactionDeps, "isEncrypted" | "logger">): Promise<string | undefined> {
  if (!(await deps.isEncrypted?.(repo))) return undefined;
  const reason = `"${repo}": encrypted repository — no key is in the cloud, so its packs are compacted by an agent (the daemon, or \`cloudbridge compact\`)`;
  deps.logger.info("compaction skipped", { repo, reason });
  return reason;
}

export async function runCompaction(event: unknown, deps: CompactionDeps): Promise<CompactionResult> {
  const { logger } = deps;
  const { repos, skipped } = requestedRepos(event, deps.repos);
  for (const reason of skipped) logger.warn("compaction request skipped", { reason });
  deps.count?.("RequestsSkipped", skipped.length);
  const result: CompactionResult = { compacted: {}, failed: {}, skipped };
  for (const repo of repos) {
    try {
      const encrypted = await skipEncrypted(repo, deps);
      if (encrypted) {
        result.skipped.push(encrypted);
        continue;
      }
      const report = await deps.compact(repo);
      result.compacted[repo] = report;
      deps.count?.("ReposCompacted", 1);
      deps.count?.("PacksMerged", report.merged.length);
      deps.count?.("PacksDeleted", report.deleted.length);
      logger.info("repository compacted", {
        repo,
        published: report.published,
        merged: report.merged.length,
        retired: report.retired.length,
        deleted: report.deleted.length,
      });
    } catch (error) {
      result.failed[repo] = (error as Error).message;
      deps.count?.("CompactionFailures", 1);
      logger.error("compaction failed", { repo, reason: (error as Error).message });
    }
  }
  const failed = Object.keys(result.failed);
  if (failed.length > 0) {
    throw new FunctionError(
      "compaction-failed",
      `Compaction failed for ${failed.join(", ")}: ${failed.map((repo) => result.failed[repo]).join("; ")}`,
    );
  }
  return result;
}
