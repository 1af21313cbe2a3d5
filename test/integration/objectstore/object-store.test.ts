import assert from "node:assert/strict";
import { Readable } from "node:stream";
import { after, before, describe, it } from "node:test";
import { ObjectMissing, PreconditionFailed } from "../../../objectstore/object-store.ts";
import { probeConditionalWrites, S3ObjectStore } from "../../../objectstore/s3-object-store.ts";
import { startTestCloud, type TestCloud } from "../../helpers/local-cloud.ts";

describe("S3ObjectStore against cloudbridge local", () => {
  let t: TestCloud;
  let store: S3ObjectStore;
  before(async () => {
    t = await startTestCloud();
    store = new S3ObjectStore(t.cloud.bucket, t.s3);
  });
  after(async () => t.stop());

  it("creates, replaces by ETag and refuses stale or duplicate writes with typed errors", async () => {
    const { etag } = await store.put("x/ref", "one\n", { ifNoneMatch: "*" });
    await assert.rejects(store.put("x/ref", "again\n", { ifNoneMatch: "*" }), PreconditionFailed);
    const { etag: second } = await store.put("x/ref", "two\n", { ifMatch: etag });
    await assert.rejects(store.put("x/ref", "stale\n", { ifMatch: etag }), PreconditionFailed);
    await assert.rejects(store.put("x/none", "x", { ifMatch: etag }), ObjectMissing);
    const current = await store.get("x/ref");
    assert.ok(current && current !== "not-modified");
    assert.equal(current.body.toString(), "two\n");
    assert.equal(current.etag, second);
    assert.equal(await store.get("x/ref", { ifNoneMatch: second }), "not-modified");
    assert.equal(await store.get("x/absent"), undefined);
    await assert.rejects(store.delete("x/ref", { ifMatch: etag }), PreconditionFailed);
    await store.delete("x/ref", { ifMatch: second });
    assert.equal(await store.head("x/ref"), undefined);
  });

  it("uploads a stream in parts, reads ranges, lists and lists prefixes", async () => {
    const data = Buffer.alloc(12 * 1024 * 1024, 3);
    data.write("start", 0);
    let progress = 0;
    await store.upload("big/file", Readable.from([data.subarray(0, 6e6), data.subarray(6e6)]), {
      partSize: 5 * 1024 * 1024,
      metadata: { name: "file.bin" },
      onProgress: (n) => (progress = n),
    });
    assert.equal(progress, data.length);
    const head = await store.head("big/file");
    assert.equal(head?.size, data.length);
    assert.equal(head?.metadata?.name, "file.bin");
    const range = await store.getStream("big/file", { range: { start: 0, end: 4 } });
    const chunks: Buffer[] = [];
    for await (const chunk of range!.stream) chunks.push(chunk as Buffer);
    assert.equal(Buffer.concat(chunks).toString(), "start");
    await store.put("big/other", "x");
    const listed: string[] = [];
    for await (const info of store.list("big/")) listed.push(info.key);
    assert.deepEqual(listed, ["big/file", "big/other"]);
    assert.deepEqual(await store.listPrefixes(""), ["big/"]);
  });

  it("detects conditional-write support with a probe", async () => {
    assert.equal(await probeConditionalWrites(store, "probe/conditional"), true);
    assert.equal(await store.head("probe/conditional"), undefined, "the probe cleans up after itself");
  });
});
