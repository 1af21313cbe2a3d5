import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { PublishBatchCommand, type PublishBatchCommandOutput } from "@aws-sdk/client-sns";
import { DeleteMessageCommand, ReceiveMessageCommand } from "@aws-sdk/client-sqs";
import { snsChangePublisher } from "../../../functions/common/sns-publisher.ts";
import { decodeChangeMessage, type ChangeMessage } from "../../../protocol/change-message.ts";
import { startTestCloud, subscribeQueue, type TestCloud } from "../../helpers/local-cloud.ts";

const message: ChangeMessage = {
  v: 1,
  bucket: "cloudbridge",
  repo: "demo",
  kind: "refs",
  ref: "refs/heads/main",
  at: "2026-11-21T12:00:00.000Z",
};

describe("SNS change publisher against the local cloud's SNS and SQS", () => {
  let t: TestCloud;
  let queueUrl: string;
  before(async () => {
    t = await startTestCloud();
    queueUrl = await subscribeQueue(t, "publisher-test");
  });
  after(async () => t?.stop());

  async function drain(expected: number): Promise<string[]> {
    const refs: string[] = [];
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      const { Messages } = await t.sqs.send(
        new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: refs.length >= expected ? 1 : 2 }),
      );
      if (!Messages?.length && refs.length >= expected) break;
      for (const m of Messages ?? []) {
        const change = decodeChangeMessage(m.Body!);
        if (change.kind === "refs") refs.push(change.ref ?? "");
        await t.sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: m.ReceiptHandle }));
      }
    }
    return refs.sort();
  }

  it("when SNS refuses one entry of a batch, re-sends only that one: every change arrives exactly once", async () => {
    // Fault injection on the real client: the first PublishBatch loses entry "3" as SNS would refuse it.
    let injected = false;
    const send = t.sns.send.bind(t.sns) as (command: PublishBatchCommand) => Promise<PublishBatchCommandOutput>;
    const faulty = {
      send: async (command: PublishBatchCommand) => {
        if (injected) return send(command);
        injected = true;
        const entries = command.input.PublishBatchRequestEntries!;
        const result = await send(
          new PublishBatchCommand({ ...command.input, PublishBatchRequestEntries: entries.filter((e) => e.Id !== "3") }),
        );
        return { ...result, Failed: [...(result.Failed ?? []), { Id: "3", Code: "InternalError", SenderFault: false }] };
      },
    };
    const messages = Array.from({ length: 12 }, (_, i) => ({ ...message, ref: `refs/heads/b${String(i).padStart(2, "0")}` }));
    await snsChangePublisher(faulty as never, t.cloud.topicArn)(messages);
    assert.deepEqual(await drain(12), messages.map((m) => m.ref).sort());
  });

  it("gives up with a clear error when SNS refuses for the sender's fault (an unknown topic)", async () => {
    await assert.rejects(
      snsChangePublisher(t.sns, t.cloud.topicArn.replace(/:[^:]+$/, ":no-such-topic"))([message]),
      /NotFound|does not exist|SNS refused/i,
    );
  });
});
