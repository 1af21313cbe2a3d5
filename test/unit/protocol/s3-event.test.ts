import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { changeMessageFromS3 } from "../../../protocol/change-from-event.ts";
import { ProtocolError } from "../../../protocol/errors.ts";
import { BucketLayout } from "../../../protocol/layout.ts";
import { s3Record } from "../../helpers/s3-records.ts";
import { decodeEventKey, encodeEventKey, MAX_RECORDS_PER_EVENT, parseS3Event } from "../../../protocol/s3-event.ts";

describe("S3 event parsing", () => {
  it("decodes URL-encoded keys: + is a space, %2B a plus", () => {
    assert.equal(decodeEventKey("annex/demo/WORM-s5-m1--my+file%2Bv2.txt"), "annex/demo/WORM-s5-m1--my file+v2.txt");
    assert.equal(decodeEventKey(encodeEventKey("a b+c/ü(1)")), "a b+c/ü(1)");
  });
  it("returns every valid record of a batch and rejects the malformed ones with reasons", () => {
    const event = {
      Records: [
        s3Record("repos/demo.git/refs/heads/main"),
        { eventSource: "aws:sqs" },
        s3Record("bad%ZZkey"),
        s3Record("annex/demo/x", { eventVersion: "1.0" }),
        s3Record("repos/demo.git/objects/pack/x"),
      ],
    };
    const { changes, rejected } = parseS3Event(event);
    assert.deepEqual(
      changes.map((c) => c.key),
      ["repos/demo.git/refs/heads/main", "repos/demo.git/objects/pack/x"],
    );
    assert.deepEqual(
      rejected.map((r) => r.index),
      [1, 2, 3],
    );
    assert.match(rejected[0]!.reason, /eventSource/);
    assert.match(rejected[1]!.reason, /URL encoding/);
  });
  it("throws a typed error when the event is not an S3 event at all", () => {
    for (const event of [undefined, null, 42, {}, { Records: "x" }]) {
      assert.throws(
        () => parseS3Event(event),
        (e: unknown) => e instanceof ProtocolError && e.code === "invalid-event",
      );
    }
  });
  it("cuts oversized batches instead of processing them", () => {
    const records = Array.from({ length: MAX_RECORDS_PER_EVENT + 5 }, () => s3Record("repos/demo.git/refs/heads/main"));
    const { changes, rejected } = parseS3Event({ Records: records });
    assert.equal(changes.length, MAX_RECORDS_PER_EVENT);
    assert.equal(rejected.length, 5);
  });
});

describe("change messages from S3 changes", () => {
  const layout = new BucketLayout();
  const change = (key: string, eventName = "ObjectCreated:Put") =>
    parseS3Event({ Records: [s3Record(encodeEventKey(key), { eventName })] }).changes[0]!;
  const agent = "0f8fad5b-d9cb-469f-a165-70867728950e";

  it("reports shared refs, synced refs (with who) and content", () => {
    assert.deepEqual(changeMessageFromS3(change("repos/demo.git/refs/heads/main"), layout), {
      v: 1,
      bucket: "cloudbridge",
      repo: "demo",
      kind: "refs",
      ref: "refs/heads/main",
      etag: "0123abcd",
      size: 41,
      seq: "00A1",
      at: "2026-11-21T12:00:00.000Z",
    });
    assert.equal(changeMessageFromS3(change(`repos/demo.git/refs/synced/${agent}/heads/main`), layout)?.by, agent);
    // Format 3: every ref lives in the refs index, so its write says "refs moved" (which ones: read it).
    const index = changeMessageFromS3(change("repos/demo.git/info/refs"), layout);
    assert.deepEqual([index?.kind, index?.kind === "refs" && index.ref, index?.by], ["refs", undefined, undefined]);
    const content = changeMessageFromS3(change("annex/demo/WORM-s5-m1--my file+v2.txt"), layout);
    assert.equal(content?.kind, "content");
    assert.equal(content?.kind === "content" && content.key, "WORM-s5-m1--my file+v2.txt");
  });
  it("ignores packs, info files but the refs index, deletions of anything but a ref, and keys outside the layout", () => {
    for (const key of [
      `repos/demo.git/objects/pack/pack-${"a".repeat(40)}.pack`,
      "repos/demo.git/objects/info/packs",
      "repos/demo.git/packed-refs",
      "repos/demo.git/refs/",
      "annex/demo/annex-uuid",
      "elsewhere/x",
    ]) {
      assert.equal(changeMessageFromS3(change(key), layout), undefined, key);
    }
    for (const key of [`repos/demo.git/objects/pack/pack-${"a".repeat(40)}.pack`, "annex/demo/WORM-s5-m1--x"]) {
      assert.equal(changeMessageFromS3(change(key, "ObjectRemoved:Delete"), layout), undefined, key);
    }
  });
  it("reports a ref's deletion (a delete marker in the versioned bucket), without ETag or size", () => {
    for (const eventName of ["ObjectRemoved:Delete", "ObjectRemoved:DeleteMarkerCreated"]) {
      const message = changeMessageFromS3(change("repos/demo.git/refs/heads/gone", eventName), layout);
      assert.deepEqual(message, {
        v: 1,
        bucket: "cloudbridge",
        repo: "demo",
        kind: "refs",
        ref: "refs/heads/gone",
        seq: "00A1",
        at: "2026-11-21T12:00:00.000Z",
      });
    }
    assert.equal(changeMessageFromS3(change(`repos/demo.git/refs/synced/${agent}/heads/main`, "ObjectRemoved:Delete"), layout)?.by, agent);
  });
  it("throws for a malformed key inside the layout", () => {
    assert.throws(() => changeMessageFromS3(change("repos/demo.git/refs/heads/a..b"), layout), ProtocolError);
  });
});
