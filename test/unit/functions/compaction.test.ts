import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { MAX_REPOS_PER_REQUEST, runCompaction, type RepoCompaction } from "../../../functions/compaction/compact.ts";
import { runQueuedCompaction } from "../../../functions/compaction/fan-out.ts";

function harness(fail: Record<string, Error> = {}) {
  const compacted: string[] = [];
  const warnings: unknown[][] = [];
  const counts: Record<string, number> = {};
  return {
    compacted,
    warnings,
    counts,
    deps: {
      repos: ["notes", "photos"],
      compact: async (repo: string): Promise<RepoCompaction> => {
        compacted.push(repo);
        if (fail[repo]) throw fail[repo];
        return {
          published: `pack-${"a".repeat(40)}`,
          merged: ["pack-1", "pack-2"],
          objectCount: 10,
          retired: ["pack-1", "pack-2"],
          deleted: ["pack-0"],
          revived: [],
        };
      },
      logger: { info: () => {}, error: () => {}, warn: (...args: unknown[]) => void warnings.push(args) },
      count: (name: string, value: number) => void (counts[name] = (counts[name] ?? 0) + value),
    },
  };
}

describe("compaction requests", () => {
  it("skips an encrypted repository with a reason, on demand and from the queue: no key is in the cloud", async () => {
    const h = harness();
    const deps = { ...h.deps, isEncrypted: async (repo: string) => repo === "photos" };
    const result = await runCompaction({ repos: ["notes", "photos"] }, deps);
    assert.deepEqual(Object.keys(result.compacted), ["notes"]);
    assert.match(
      result.skipped.join("\n"),
      /"photos": encrypted repository — no key is in the cloud, so its packs are compacted by an agent/,
    );
    const queued = await runQueuedCompaction(
      { Records: [{ messageId: "m1", body: JSON.stringify({ repo: "photos" }), eventSource: "aws:sqs" }] },
      deps,
    );
    assert.deepEqual(queued, { compacted: [], batchItemFailures: [] });
    assert.deepEqual(h.compacted, ["notes"]);
  });

  it("compacts the repository named on demand, and every configured one on a scheduled event", async () => {
    const h = harness();
    const one = await runCompaction({ repo: "photos" }, h.deps);
    assert.deepEqual(Object.keys(one.compacted), ["photos"]);
    await runCompaction({ source: "aws.events", "detail-type": "Scheduled Event", detail: {} }, h.deps);
    await runCompaction({ repos: ["notes", "photos", "notes"] }, h.deps);
    assert.deepEqual(h.compacted, ["photos", "notes", "photos", "notes", "photos"]);
    assert.equal(h.counts.ReposCompacted, 5);
    assert.equal(h.counts.PacksMerged, 10);
    assert.equal(h.counts.PacksDeleted, 5);
  });

  it("logs, counts and skips malformed requests, names outside the layout and repositories of no concern to this stack", async () => {
    for (const event of [
      null,
      "photos",
      [],
      { repos: "photos" },
      { source: "aws.s3", Records: [] },
      { nonsense: true },
      { repo: "notes", extra: 1 },
    ]) {
      const h = harness();
      const result = await runCompaction(event, h.deps);
      assert.deepEqual(result.compacted, {}, JSON.stringify(event));
      assert.equal(result.skipped.length, 1, JSON.stringify(event));
      assert.equal(h.counts.RequestsSkipped, 1);
      assert.equal(h.warnings.length, 1);
    }
    const h = harness();
    const result = await runCompaction({ repos: ["../etc", "photos", "other", 42] }, h.deps);
    assert.deepEqual(h.compacted, ["photos"]);
    assert.equal(result.skipped.length, 3);
    assert.match(result.skipped.join("\n"), /not a repository of this stack/);
    assert.equal(h.counts.RequestsSkipped, 3);
  });

  it(`compacts at most ${MAX_REPOS_PER_REQUEST} repositories of an oversized request`, async () => {
    const h = harness();
    const repos = Array.from({ length: MAX_REPOS_PER_REQUEST + 3 }, () => "notes");
    const result = await runCompaction({ repos }, h.deps);
    assert.deepEqual(h.compacted, ["notes"]);
    assert.equal(result.skipped.length, 3);
  });

  it("goes on with the other repositories when one fails, then fails the invocation naming it (retried, then dead-lettered)", async () => {
    const h = harness({ notes: new Error("objects/info/packs kept changing") });
    await assert.rejects(runCompaction({}, h.deps), /Compaction failed for notes: objects\/info\/packs kept changing/);
    assert.deepEqual(h.compacted, ["notes", "photos"]);
    assert.equal(h.counts.CompactionFailures, 1);
    assert.equal(h.counts.ReposCompacted, 1);
  });
});
