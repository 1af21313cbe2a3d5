import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { fanOutChanges } from "../../../functions/change-fanout/fanout.ts";
import { encodeChangeMessage, type ChangeMessage } from "../../../protocol/change-message.ts";
import { BucketLayout } from "../../../protocol/layout.ts";
import { MAX_RECORDS_PER_EVENT } from "../../../protocol/s3-event.ts";
import { s3Record } from "../../helpers/s3-records.ts";

function harness() {
  const published: ChangeMessage[][] = [];
  const warnings: unknown[][] = [];
  const counts: Record<string, number> = {};
  return {
    published,
    warnings,
    counts,
    deps: {
      layout: new BucketLayout(),
      publish: async (messages: ChangeMessage[]) => void published.push(messages),
      logger: { info: () => {}, debug: () => {}, warn: (...args: unknown[]) => void warnings.push(args) },
      count: (name: string, value: number) => void (counts[name] = (counts[name] ?? 0) + value),
    },
  };
}

describe("change fan-out", () => {
  it("publishes one message per ref or content change, in one batch", async () => {
    const h = harness();
    const result = await fanOutChanges(
      {
        Records: [
          s3Record("repos/demo.git/refs/heads/main"),
          s3Record(`annex/demo/SHA256E-s1--${"c".repeat(64)}`),
          s3Record("repos/demo.git/info/refs"),
          s3Record("repos/demo.git/objects/info/packs"),
        ],
      },
      h.deps,
    );
    assert.deepEqual(result, { published: 3, ignored: 1, skipped: 0 });
    assert.equal(h.published.length, 1);
    assert.deepEqual(
      h.published[0]!.map((m) => m.kind),
      ["refs", "content", "refs"],
    );
    assert.equal(h.counts.ChangesPublished, 3);
  });
  it("logs, counts and skips malformed records without failing the batch", async () => {
    const h = harness();
    const result = await fanOutChanges(
      { Records: [{ nonsense: true }, s3Record("repos/../etc.git/refs/heads/main"), s3Record("repos/demo.git/refs/heads/main")] },
      h.deps,
    );
    assert.deepEqual(result, { published: 1, ignored: 0, skipped: 2 });
    assert.equal(h.warnings.length, 2);
    assert.equal(h.counts.RecordsSkipped, 2);
  });
  it("skips an event that is not an S3 event at all, counted, without throwing", async () => {
    const h = harness();
    assert.deepEqual(await fanOutChanges({ detail: "not s3" }, h.deps), { published: 0, ignored: 0, skipped: 1 });
    assert.equal(h.published.length, 0);
    assert.equal(h.counts.RecordsSkipped, 1);
  });
});

describe("change fan-out with malformed input", () => {
  it("skips records from another source (SQS, SNS) and counts them, publishing the rest", async () => {
    const h = harness();
    const result = await fanOutChanges(
      {
        Records: [
          { ...s3Record("repos/demo.git/refs/heads/main"), eventSource: "aws:sqs" },
          { EventSource: "aws:sns", Sns: { Message: "{}" } },
          s3Record("repos/demo.git/refs/heads/main"),
        ],
      },
      h.deps,
    );
    assert.deepEqual(result, { published: 1, ignored: 0, skipped: 2 });
    assert.equal(h.counts.RecordsSkipped, 2);
  });
  it(`publishes at most ${MAX_RECORDS_PER_EVENT} records of an oversized batch and counts the rest as skipped`, async () => {
    const h = harness();
    const records = Array.from({ length: MAX_RECORDS_PER_EVENT + 3 }, (_, i) => s3Record(`repos/demo.git/refs/heads/b${i}`));
    const result = await fanOutChanges({ Records: records }, h.deps);
    assert.deepEqual(result, { published: MAX_RECORDS_PER_EVENT, ignored: 0, skipped: 3 });
    assert.equal(h.counts.RecordsSkipped, 3);
    assert.equal(h.counts.ChangesPublished, MAX_RECORDS_PER_EVENT);
  });
});

describe("change fan-out under duplicate delivery", () => {
  it("publishes byte-identical messages when S3 delivers the same event twice, and one message for a record repeated in a batch", async () => {
    const h = harness();
    const event = { Records: [s3Record("repos/demo.git/refs/heads/main")] };
    await fanOutChanges(event, h.deps);
    await fanOutChanges(structuredClone(event), h.deps);
    assert.equal(h.published.length, 2);
    assert.equal(encodeChangeMessage(h.published[0]![0]!), encodeChangeMessage(h.published[1]![0]!));
    const repeated = await fanOutChanges({ Records: [s3Record("annex/demo/WORM-s1--a"), s3Record("annex/demo/WORM-s1--a")] }, h.deps);
    assert.deepEqual(repeated, { published: 1, ignored: 1, skipped: 0 });
  });
});
