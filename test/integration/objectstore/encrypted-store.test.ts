import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { Readable } from "node:stream";
import { after, before, describe, it } from "node:test";
import {
  EncryptedStore,
  loadIdentity,
  newKeyring,
  PreconditionFailed,
  S3ObjectStore,
  UndecryptableObject,
  unlockKeyring,
  type RepositoryKeys,
} from "../../../objectstore/index.ts";
import { BucketLayout } from "../../../protocol/index.ts";
import { tempDir } from "../../helpers/git.ts";
import { startTestCloud, type TestCloud } from "../../helpers/local-cloud.ts";

async function bytesOf(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const part of stream) parts.push(part as Buffer);
  return Buffer.concat(parts);
}

describe("EncryptedStore against cloudbridge local", () => {
  let t: TestCloud;
  let raw: S3ObjectStore;
  let keys: RepositoryKeys;
  let scratch: { path: string; remove(): Promise<void> };
  const layout = new BucketLayout("team");
  before(async () => {
    t = await startTestCloud();
    raw = new S3ObjectStore(t.cloud.bucket, t.s3);
    scratch = await tempDir("encrypted-store");
    const identity = (await loadIdentity({ create: true, path: join(scratch.path, "id") }))!;
    keys = await unlockKeyring((await newKeyring(identity, "test")).file, identity, "test");
  });
  after(async () => {
    await scratch.remove();
    await t.stop();
  });

  it("keeps compare-and-swap, lists logical keys in key order, and maps listing prefixes", async () => {
    const store = new EncryptedStore(raw, layout, "vault", keys);
    const main = layout.ref("vault", "refs/heads/main");
    const { etag } = await store.put(main, "a".repeat(40) + "\n", { ifNoneMatch: "*" });
    await assert.rejects(store.put(main, "b".repeat(40) + "\n", { ifNoneMatch: "*" }), PreconditionFailed);
    await store.put(main, "c".repeat(40) + "\n", { ifMatch: etag });
    await assert.rejects(store.put(main, "d".repeat(40) + "\n", { ifMatch: etag }), PreconditionFailed);
    await store.put(layout.ref("vault", "refs/heads/tax/2025"), "e".repeat(40) + "\n");
    await store.put(layout.syncedRef("vault", "0f3e4a52-1c7b-4d2a-9a55-1f0b6c9d8e71", "refs/heads/main"), "f".repeat(40) + "\n");
    const listed = [];
    for await (const info of store.list(layout.refsRoot("vault")))
      listed.push([info.key.slice(layout.repoRoot("vault").length), info.size]);
    assert.deepEqual(listed, [
      ["refs/heads/main", 41],
      ["refs/heads/tax/2025", 41],
      ["refs/synced/0f3e4a52-1c7b-4d2a-9a55-1f0b6c9d8e71/heads/main", 41],
    ]);
    assert.deepEqual(await store.listPrefixes(`${layout.refsRoot("vault")}heads/`), [`${layout.refsRoot("vault")}heads/tax/`]);
    const physical = [];
    for await (const info of raw.list(layout.refsRoot("vault"))) physical.push(info.key);
    assert.ok(
      physical.every((key) => !key.includes("main") && !key.includes("tax")),
      physical.join("\n"),
    );
    const current = await store.get(main);
    assert.ok(current && current !== "not-modified");
    assert.equal(current.body.toString(), "c".repeat(40) + "\n");
    assert.equal(await store.get(main, { ifNoneMatch: current.etag }), "not-modified");
  });

  it("a multipart upload is sealed part by part, resumes in another process with its parts kept, and reads back whole and by ranges", async () => {
    const key = layout.annexObject("vault", `SHA256E-s1--${"a".repeat(64)}.bin`);
    const partSize = 5 * 1024 * 1024;
    const data = randomBytes(2 * partSize + 12345);
    const part = (n: number) => data.subarray((n - 1) * partSize, n * partSize);
    const first = new EncryptedStore(raw, layout, "vault", keys);
    const uploadId = await first.createMultipartUpload(key, { size: data.length, partSize });
    const etags = [await first.uploadPart(key, uploadId, 1, part(1)), await first.uploadPart(key, uploadId, 2, part(2))];
    // "Another process": a new store, the upload id and part ETags from the record.
    const resumed = new EncryptedStore(raw, layout, "vault", keys);
    assert.equal(resumed.expectedPartEtag(key, uploadId, 1, part(1)), etags[0]);
    assert.equal(resumed.expectedPartEtag(key, uploadId, 2, part(2)), etags[1]);
    assert.notEqual(resumed.expectedPartEtag(key, uploadId, 2, part(1)), etags[1]);
    etags.push(await resumed.uploadPart(key, uploadId, 3, part(3)));
    await resumed.completeMultipartUpload(
      key,
      uploadId,
      etags.map((etag, i) => ({ partNumber: i + 1, etag })),
      { ifNoneMatch: "*" },
    );
    const head = await resumed.head(key);
    assert.equal(head?.size, data.length);
    assert.deepEqual(await bytesOf((await resumed.getStream(key))!.stream), data);
    for (const [start, end] of [
      [0, 0],
      [partSize - 3, partSize + 70_000],
      [data.length - 100, data.length - 1],
    ] as const) {
      const range = await resumed.getStream(key, { range: { start, end } });
      assert.deepEqual(await bytesOf(range!.stream), data.subarray(start, end + 1), `${start}-${end}`);
    }
    const sealed = await raw.get(resumed.physical(key));
    assert.ok(sealed && sealed !== "not-modified");
    assert.equal(sealed.body.indexOf(data.subarray(1000, 1064)), -1);
  });

  it("a streamed upload reads back; an object truncated in the bucket is refused", async () => {
    const store = new EncryptedStore(raw, layout, "vault", keys);
    const key = layout.pack("vault", `pack-${"1".repeat(40)}.pack`);
    const data = randomBytes(300_000);
    await store.upload(key, () => Readable.from([data.subarray(0, 1000), data.subarray(1000)]), { ifNoneMatch: "*" });
    assert.deepEqual(await bytesOf((await store.getStream(key))!.stream), data);
    const sealed = await raw.get(store.physical(key));
    assert.ok(sealed && sealed !== "not-modified");
    await raw.put(store.physical(key), sealed.body.subarray(0, 32 + 2 * (65536 + 16)));
    await assert.rejects(store.get(key), UndecryptableObject);
    await assert.rejects(bytesOf((await store.getStream(key))!.stream), UndecryptableObject);
  });
});
