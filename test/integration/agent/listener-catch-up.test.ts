import assert from "node:assert/strict";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { GetQueueAttributesCommand, GetQueueUrlCommand, SetQueueAttributesCommand } from "@aws-sdk/client-sqs";
import { queueNameFor } from "../../../agent/listen/sqs.ts";
import { agentEnv, cliOk, startDaemon, waitUntil, type Daemon } from "../../helpers/agents.ts";
import { startFaultProxy, type FaultProxy } from "../../helpers/fault-proxy.ts";
import { tempDir } from "../../helpers/git.ts";
import { startTestCloud, type TestCloud } from "../../helpers/local-cloud.ts";

/**
 * A listener whose queue failed it may have missed what was announced meanwhile: a receive whose answer
 * was lost took the messages it carried (hidden for the queue's visibility timeout, here longer than the
 * test), a delete whose answer was lost may have removed messages never heard. So once the queue answers
 * again the daemon fetches at once, as after its listener started, instead of staying behind until its
 * next full round (ten minutes here).
 */
describe("an SQS listener that went down and came back", () => {
  let scratch: { path: string; remove(): Promise<void> };
  let t: TestCloud;
  let proxy: FaultProxy;
  const daemons: Daemon[] = [];
  /** While set, every ReceiveMessage of machine C reaches the queue and its answer is lost. */
  let receivesLost = false;
  before(async () => {
    scratch = await tempDir("listener-catch-up");
    t = await startTestCloud();
    proxy = await startFaultProxy({
      target: t.cloud.endpoint,
      seed: 1,
      script: (_method, _path, _n, action) => (receivesLost && action === "AmazonSQS.ReceiveMessage" ? "resetAfter" : undefined),
    });
  });
  after(async () => {
    for (const d of daemons) await d.stop();
    await proxy.stop();
    await t.stop();
    await scratch.remove();
  });

  it("fetches what was announced while it was down as soon as its queue answers again", async () => {
    const direct = agentEnv(t.cloud.env);
    const throughProxy = agentEnv(t.cloud.env, { AWS_ENDPOINT_URL: proxy.endpoint });
    const url = "s3://cloudbridge/catch-up";
    const A = join(scratch.path, "a");
    const C = join(scratch.path, "c");
    const inited = await cliOk(["init", A, "--remote", url, "--topic-arn", t.cloud.topicArn], direct);
    // The other machine joins as init's hint says, which names the topic it hears of changes by.
    const joining = /^Join from another machine with: cloudbridge (clone .*) DIR$/m.exec(inited.stdout)?.[1];
    assert.equal(joining, `clone ${url} --topic-arn ${t.cloud.topicArn}`, inited.stdout);
    await cliOk([...joining.split(" "), C], throughProxy);
    const c = await startDaemon(C, throughProxy, ["--listen", "sqs", "--reconcile-interval", "600", "--debounce", "50"]);
    daemons.push(c);
    const agent = String((await c.waitForEvent("daemon.start")).agent);
    const { QueueUrl } = await t.sqs.send(new GetQueueUrlCommand({ QueueName: queueNameFor(agent) }));
    // A message taken by a receive whose answer was lost stays hidden longer than this test runs.
    await t.sqs.send(new SetQueueAttributesCommand({ QueueUrl, Attributes: { VisibilityTimeout: "43200" } }));

    // C's queue fails it: the long poll in flight is cut, and every receive from now on loses its answer.
    receivesLost = true;
    proxy.setDown("reset");
    proxy.setDown(false);
    // A (a sync by hand: no daemon, so nothing announced later) changes the folder; C's receive takes the news.
    await writeFile(join(A, "while-down.txt"), "announced while C's listener was down\n");
    await cliOk(["sync", A], direct);
    await t.cloud.settle();
    const counts = async () => {
      const { Attributes = {} } = await t.sqs.send(
        new GetQueueAttributesCommand({
          QueueUrl,
          AttributeNames: ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        }),
      );
      return { visible: Number(Attributes.ApproximateNumberOfMessages), taken: Number(Attributes.ApproximateNumberOfMessagesNotVisible) };
    };
    await waitUntil(
      async () => {
        const { visible, taken } = await counts();
        return visible === 0 && taken > 0;
      },
      "C's receive to take the announcement (its answer lost)",
      60_000,
      100,
    );

    // The queue answers again; nothing else will be announced.
    receivesLost = false;
    await waitUntil(
      async () => (await readFile(join(C, "while-down.txt"), "utf8").catch(() => undefined)) === "announced while C's listener was down\n",
      "the change announced while C's listener was down to reach C",
      120_000,
      100,
    );
    assert.ok(proxy.counts.resetAfter > 0, "a receive of C's lost its answer (the test made what it says)");
  });
});
