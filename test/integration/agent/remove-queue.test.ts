import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { ListSubscriptionsCommand } from "@aws-sdk/client-sns";
import { GetQueueUrlCommand, ReceiveMessageCommand } from "@aws-sdk/client-sqs";
import { PutObjectCommand } from "@aws-sdk/client-s3";
import { agentEnv, cli, cliOk, startDaemon } from "../../helpers/agents.ts";
import { tempDir } from "../../helpers/git.ts";
import { startTestCloud, subscribeQueue, type TestCloud } from "../../helpers/local-cloud.ts";

/**
 * The queue a daemon makes for itself with `--listen sqs` (under credentials that may create queues) is
 * removed by `cloudbridge remove-queue`, with its subscription, and nothing else is touched.
 */
describe("cloudbridge remove-queue: the queue an agent created for itself goes", () => {
  let t: TestCloud;
  let scratch: { path: string; remove(): Promise<void> };
  before(async () => {
    t = await startTestCloud();
    scratch = await tempDir("remove-queue");
  });
  after(async () => {
    await t?.stop();
    await scratch?.remove();
  });

  const subscribedEndpoints = async () => {
    const { Subscriptions = [] } = await t.sns.send(new ListSubscriptionsCommand({}));
    return Subscriptions.map((s) => s.Endpoint ?? "");
  };
  const queueExists = (name: string) =>
    t.sqs.send(new GetQueueUrlCommand({ QueueName: name })).then(
      () => true,
      (error: Error) => (error.name === "QueueDoesNotExist" ? false : Promise.reject(error)),
    );

  it("refuses while a daemon listens on it; then removes the queue and its subscription, keeps other queues subscribed, and says so when run again", async () => {
    const env = agentEnv(t.cloud.env);
    const dir = join(scratch.path, "folder");
    await cliOk(["init", dir, "--remote", `s3://${t.cloud.bucket}/notes`, "--topic-arn", t.cloud.topicArn], env);
    const { agent } = JSON.parse((await cliOk(["status", dir, "--json", "--offline"], env)).stdout) as { agent: string };
    const queue = `cloudbridge-agent-${agent}`;
    const otherUrl = await subscribeQueue(t, "someone-elses-queue");

    const daemon = await startDaemon(dir, env, ["--listen", "sqs"]);
    try {
      assert.ok(await queueExists(queue), "the daemon made its queue");
      assert.equal((await subscribedEndpoints()).filter((e) => e.endsWith(`:${queue}`)).length, 1);
      const refused = await cli(["remove-queue", dir], env);
      assert.equal(refused.code, 2, refused.stderr);
      assert.match(refused.stderr, /listens on that queue: stop it first/);
      assert.ok(await queueExists(queue), "nothing removed while the daemon listens");
    } finally {
      assert.equal(await daemon.stop(), 0);
    }

    const removed = JSON.parse((await cliOk(["remove-queue", dir, "--json"], env)).stdout) as {
      queue: string;
      queueUrl?: string;
      subscriptions: string[];
    };
    assert.equal(removed.queue, queue);
    assert.ok(removed.queueUrl?.endsWith(`/${queue}`), removed.queueUrl);
    assert.equal(removed.subscriptions.length, 1);
    assert.equal(await queueExists(queue), false, "the queue is gone");
    const endpoints = await subscribedEndpoints();
    assert.deepEqual(
      endpoints.filter((e) => e.endsWith(`:${queue}`)),
      [],
      "its subscription is gone",
    );
    assert.ok(
      endpoints.some((e) => e.endsWith(":someone-elses-queue")),
      "another queue stays subscribed",
    );

    // The topic still delivers to the queues that remain.
    await t.s3.send(new PutObjectCommand({ Bucket: t.cloud.bucket, Key: "repos/notes.git/refs/heads/main", Body: `${"b".repeat(40)}\n` }));
    const { Messages = [] } = await t.sqs.send(
      new ReceiveMessageCommand({ QueueUrl: otherUrl, WaitTimeSeconds: 10, MaxNumberOfMessages: 10 }),
    );
    assert.ok(Messages.length >= 1);

    const again = await cliOk(["remove-queue", dir], env);
    assert.equal(again.stdout.trim(), `no queue ${queue}: nothing to remove`);
  });
});
