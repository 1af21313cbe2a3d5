import assert from "node:assert/strict";
import { randomBytes, randomUUID } from "node:crypto";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { CreateQueueCommand, DeleteMessageCommand, ReceiveMessageCommand } from "@aws-sdk/client-sqs";
import { compactRepository, push, readInfoPacks } from "../../../gitstore/index.ts";
import { IsomorphicGitEngine } from "../../../gitstore/isomorphic-engine.ts";
import { startLocalFunction, type LocalFunction } from "../../../local/lambda-runtime.ts";
import { S3ObjectStore } from "../../../objectstore/index.ts";
import { BucketLayout } from "../../../protocol/index.ts";
import { commitFile, git, initRepo, tempDir } from "../../helpers/git.ts";
import { seedTwoPackRepositories } from "../../helpers/compaction.ts";
import { startTestCloud, type TestCloud } from "../../helpers/local-cloud.ts";

const REPOS = 200;
const names = Array.from({ length: REPOS }, (_, i) => `repo-${String(i).padStart(3, "0")}`);

/**
 * The compaction function as the stack deploys it — the schedule's invocation queues one message per
 * repository, and each message is one invocation (as Lambda's SQS event source mapping delivers them,
 * one per batch) — against the local cloud's S3 and SQS, with 200 repositories of two packs each.
 */
describe("compaction fan-out: 200 repositories, one invocation each", () => {
  let t: TestCloud;
  let fn: LocalFunction;
  let store: S3ObjectStore;
  let queueUrl: string;
  let work: { path: string; remove(): Promise<void> };
  const layout = new BucketLayout("team");

  before(async () => {
    t = await startTestCloud();
    store = new S3ObjectStore(t.cloud.bucket, t.s3);
    work = await tempDir("compaction-fan-out");
    await seedTwoPackRepositories(store, layout, names, work.path);
    ({ QueueUrl: queueUrl = "" } = await t.sqs.send(new CreateQueueCommand({ QueueName: "cloudbridge-compaction" })));
    fn = startLocalFunction({
      name: "cloudbridge-compaction",
      module: new URL("../../../functions/compaction/handler.ts", import.meta.url),
      timeoutMs: 120_000,
      env: {
        ...t.cloud.env,
        BUCKET_NAME: t.cloud.bucket,
        BUCKET_PREFIX: layout.prefix,
        // Only one is configured: the schedule also finds every repository the bucket holds.
        REPOS: names[0]!,
        COMPACTION_GRACE_MINUTES: "0",
        COMPACTION_QUEUE_URL: queueUrl,
        POWERTOOLS_LOG_LEVEL: "ERROR",
        POWERTOOLS_METRICS_DISABLED: "true",
        PATH: process.env.PATH ?? "",
      },
    });
  });
  after(async () => {
    await fn?.stop();
    await work?.remove();
    await t?.stop();
  });

  it("the schedule queues every repository; each message is one invocation that compacts it; none is skipped; peak memory reported", async (ctx) => {
    const rssBefore = process.resourceUsage().maxRSS;
    const scheduled = { source: "aws.events", "detail-type": "Scheduled Event", detail: {}, time: new Date().toISOString() };
    const plan = (await fn.invoke(scheduled)) as { queued: string[]; skipped: string[] };
    assert.deepEqual([...plan.queued].sort(), names);
    assert.deepEqual(plan.skipped, []);

    const invocations = new Map<string, number>();
    for (let empty = 0; empty < 2;) {
      const { Messages = [] } = await t.sqs.send(
        new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }),
      );
      if (Messages.length === 0) {
        empty++;
        continue;
      }
      for (const message of Messages) {
        const event = {
          Records: [{ messageId: message.MessageId!, receiptHandle: message.ReceiptHandle!, body: message.Body!, eventSource: "aws:sqs" }],
        };
        const result = (await fn.invoke(event)) as { compacted: string[]; batchItemFailures: unknown[] };
        assert.deepEqual(result.batchItemFailures, []);
        assert.equal(result.compacted.length, 1);
        invocations.set(result.compacted[0]!, (invocations.get(result.compacted[0]!) ?? 0) + 1);
        await t.sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: message.ReceiptHandle! }));
      }
    }
    assert.deepEqual([...invocations.keys()].sort(), names, "every repository compacted");
    assert.ok(
      [...invocations.values()].every((n) => n === 1),
      "one invocation each",
    );
    for (const repo of names) assert.equal((await readInfoPacks(store, layout, repo)).length, 1, `${repo} has one pack`);
    const rss = process.resourceUsage().maxRSS;
    ctx.diagnostic(
      `peak RSS of the test process (the function runs in its worker thread): ${Math.round(rss / 1024)} MiB (${Math.round(rssBefore / 1024)} MiB before)`,
    );
  });

  it("bounds memory: one run merges the smallest packs up to maxMergeBytes and leaves larger ones listed as they are", async () => {
    const dir = join(work.path, "bounded");
    await mkdir(dir);
    const repo = "bounded";
    const pushCtx = { gitDir: await initRepo(dir), store, layout, repo, agent: randomUUID() };
    const sizes = [1_000, 1_000, 300_000];
    for (const [i, size] of sizes.entries()) {
      await writeFile(join(dir, `file-${i}.bin`), randomBytes(size));
      await git(dir, "add", "-A");
      const tip = await commitFile(dir, `note-${i}.txt`, `note ${i}\n`);
      await push({ ...pushCtx, updates: [{ ref: "refs/heads/main", oid: tip }] });
    }
    const before = await readInfoPacks(store, layout, repo);
    assert.equal(before.length, 3);
    const packSize = async (name: string) => (await store.head(layout.pack(repo, `${name}.pack`)))!.size;
    const large = (await Promise.all(before.map(async (name) => ({ name, size: await packSize(name) })))).sort(
      (a, b) => b.size - a.size,
    )[0]!;
    const report = await compactRepository({ store, layout, repo, engine: new IsomorphicGitEngine(), graceMs: 0, maxMergeBytes: 100_000 });
    assert.equal(report.merged.length, 2);
    assert.ok(!report.merged.includes(large.name), "the large pack is not merged");
    assert.deepEqual((await readInfoPacks(store, layout, repo)).sort(), [report.published!, large.name].sort());
  });
});
