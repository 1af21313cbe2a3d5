import type { ObjectStore } from "../../objectstore/index.ts";
import type { BucketLayout } from "../../protocol/index.ts";

/**
 * What the bucket holds, for a person deciding whether it costs too much: bytes per repository and per
 * kind (history: the git repository; content: annexed files the repository's current tree names; old
 * versions: annexed content only history names; other: presence records, markers), and a monthly
 * estimate at S3 Standard's list price. One listing of the deployment's prefix (one request per 1,000
 * objects), so it runs when a person asks, never on a timer.
 */
export const S3_STANDARD_USD_PER_GB_MONTH = 0.023; // us-east-1, first 50 TB (docs/cost.md)

export interface RepoUsage {
  repo: string;
  history: number;
  content: number;
  oldVersions: number;
  other: number;
  objects: number;
}

export interface BucketUsage {
  bucket: string;
  prefix: string;
  repos: RepoUsage[];
  total: number;
  objects: number;
  /** US dollars per month for storage alone (requests and transfer out come on top). */
  monthlyUsd: number;
  pricePerGbMonth: number;
  computedAt: string;
}

/**
 * `currentKeys`: per repository, the annex keys its current tree names (known for the folder's own
 * repository); a repository without an entry counts all its content as current.
 */
export async function bucketUsage(
  store: ObjectStore,
  bucket: string,
  layout: BucketLayout,
  currentKeys: ReadonlyMap<string, ReadonlySet<string>>,
): Promise<BucketUsage> {
  const repos = new Map<string, RepoUsage>();
  const usage = (repo: string) => {
    let entry = repos.get(repo);
    if (!entry) repos.set(repo, (entry = { repo, history: 0, content: 0, oldVersions: 0, other: 0, objects: 0 }));
    return entry;
  };
  let total = 0;
  let objects = 0;
  for await (const object of store.list(layout.prefix)) {
    total += object.size;
    objects += 1;
    let parsed;
    try {
      parsed = layout.parse(object.key);
    } catch {
      parsed = { kind: "other" as const };
    }
    const repo = "repo" in parsed ? parsed.repo : "(deployment)";
    const entry = usage(repo);
    entry.objects += 1;
    if (parsed.kind === "annex-object") {
      const current = currentKeys.get(repo);
      if (!current || current.has(parsed.key)) entry.content += object.size;
      else entry.oldVersions += object.size;
    } else if (parsed.kind === "agent" || parsed.kind === "other" || parsed.kind === "annex-uuid" || repo === "(deployment)")
      entry.other += object.size;
    else entry.history += object.size;
  }
  return {
    bucket,
    prefix: layout.prefix,
    repos: [...repos.values()].sort((a, b) => a.repo.localeCompare(b.repo)),
    total,
    objects,
    monthlyUsd: (total / 1024 ** 3) * S3_STANDARD_USD_PER_GB_MONTH,
    pricePerGbMonth: S3_STANDARD_USD_PER_GB_MONTH,
    computedAt: new Date().toISOString(),
  };
}
