import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { InvokeCommand, LambdaClient } from "@aws-sdk/client-lambda";
import { S3Client } from "@aws-sdk/client-s3";
import { GetQueueAttributesCommand, ListQueuesCommand, SQSClient } from "@aws-sdk/client-sqs";
import { readInfoPacks } from "../../../gitstore/index.ts";
import { S3ObjectStore } from "../../../objectstore/index.ts";
import { BucketLayout } from "../../../protocol/index.ts";
import { waitUntil } from "../../helpers/agents.ts";
import { tempDir } from "../../helpers/git.ts";
import { seedTwoPackRepositories } from "../../helpers/compaction.ts";
import { startStack, synthCloudAssembly, TWO_AGENTS, type RunningStack } from "../../helpers/stack-cloud.ts";

const REPOS = 200;
const names = Array.from({ length: REPOS }, (_, i) => `repo-${String(i).padStart(3, "0")}`);

/**
 * Compaction as the stack deploys it, rehearsed by `cloudbridge local --stack`: the schedule's input
 * (`{}`) invokes the bundled function through Lambda's Invoke, it queues one message per repository the
 * bucket holds, and the compaction queue's event source mapping (one message per batch, two at a time)
 * invokes it once per message, signing as the function's role. 200 repositories of two packs each.
 */
describe("cloudbridge local --stack: compaction of 200 repositories, one invocation each", () => {
  let stack: RunningStack;
  let store: S3ObjectStore;
  let work: { path: string; remove(): Promise<void> };
  const layout = new BucketLayout("");
  const clients: { destroy(): void }[] = [];

  before(async () => {
    stack = await startStack(synthCloudAssembly(TWO_AGENTS));
    const credentials = { accessKeyId: stack.env.AWS_ACCESS_KEY_ID!, secretAccessKey: stack.env.AWS_SECRET_ACCESS_KEY! };
    const s3 = new S3Client({ region: stack.region, endpoint: stack.endpoint, credentials, forcePathStyle: true });
    clients.push(s3);
    store = new S3ObjectStore(stack.outputs.BucketName!, s3);
    work = await tempDir("stack-compaction");
    await seedTwoPackRepositories(store, layout, names, work.path);
  });
  after(async () => {
    for (const client of clients) client.destroy();
    await stack?.stop();
    await work?.remove();
  });

  it("the schedule's invocation queues every repository; the queue invokes the function once per repository; none is skipped; peak memory reported", async (ctx) => {
    const credentials = { accessKeyId: stack.env.AWS_ACCESS_KEY_ID!, secretAccessKey: stack.env.AWS_SECRET_ACCESS_KEY! };
    const lambda = new LambdaClient({ region: stack.region, endpoint: stack.endpoint, credentials });
    const sqs = new SQSClient({ region: stack.region, endpoint: stack.endpoint, credentials, useQueueUrlAsEndpoint: false });
    clients.push(lambda, sqs);
    const started = performance.now();
    const answer = await lambda.send(
      new InvokeCommand({ FunctionName: stack.outputs.CompactionFunctionName, Payload: new TextEncoder().encode("{}") }),
    );
    assert.equal(answer.FunctionError, undefined, Buffer.from(answer.Payload ?? []).toString());
    const plan = JSON.parse(Buffer.from(answer.Payload!).toString()) as { queued: string[]; skipped: string[] };
    // Every repository the bucket holds, and the ones the stack is configured with (empty so far).
    const queued = [...names, ...TWO_AGENTS.repos].sort();
    assert.deepEqual([...plan.queued].sort(), queued);
    assert.deepEqual(plan.skipped, []);

    const compacted = async () =>
      (await Promise.all(names.map(async (repo) => (await readInfoPacks(store, layout, repo)).length))).every((n) => n === 1);
    const invoked = () => stack.stderr().match(/invoking \S+ with a batch of/g)?.length ?? 0;
    await waitUntil(
      async () => (invoked() >= queued.length && (await compacted()) ? true : undefined),
      "every repository compacted to one pack",
      120_000,
      1000,
    ).catch((error: Error) => {
      throw new Error(
        `${error.message}; ${invoked()} invocations so far; the rehearsal said:\n${stack.stderr().split("\n").slice(-20).join("\n")}`,
      );
    });
    const seconds = ((performance.now() - started) / 1000).toFixed(1);

    const batches = stack
      .stderr()
      .split("\n")
      .map((line) => /invoking \S+ with a batch of (\d+): (.*)$/.exec(line))
      .filter((m) => m !== null);
    assert.equal(batches.length, queued.length, "one invocation per queued repository");
    assert.ok(
      batches.every((m) => m[1] === "1"),
      "each invocation compacts one repository",
    );
    assert.equal(new Set(batches.map((m) => m[2])).size, queued.length, "no message delivered twice");
    const { QueueUrls = [] } = await sqs.send(new ListQueuesCommand({ QueueNamePrefix: `${stack.stackName}-Compaction` }));
    assert.equal(QueueUrls.length, 2, "the compaction queue and its dead-letter queue");
    for (const QueueUrl of QueueUrls) {
      const { Attributes } = await sqs.send(
        new GetQueueAttributesCommand({
          QueueUrl,
          AttributeNames: ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        }),
      );
      assert.deepEqual(Attributes, { ApproximateNumberOfMessages: "0", ApproximateNumberOfMessagesNotVisible: "0" }, QueueUrl);
    }
    const peak = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${stack.pid}/status`, "utf8"))?.[1];
    ctx.diagnostic(
      `200 repositories compacted in ${seconds} s; peak RSS of the rehearsal (every function runs in its worker threads): ${Math.round(Number(peak) / 1024)} MiB`,
    );
  });
});
