import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { Readable } from "node:stream";
import { after, before, describe, it } from "node:test";
import { explainAccessError } from "../../../objectstore/access-errors.ts";
import { plainS3Settings } from "../../../objectstore/aws-settings.ts";
import { ObjectMissing, PreconditionFailed } from "../../../objectstore/object-store.ts";
import { LightS3Client } from "../../../objectstore/s3-light-client.ts";
import { createS3Client, probeConditionalWrites, S3ObjectStore } from "../../../objectstore/s3-object-store.ts";
import { LOCAL_CREDENTIALS } from "../../../local/cloud.ts";
import { startTestCloud, type TestCloud } from "../../helpers/local-cloud.ts";
import { startFaultProxy, type FaultProxy } from "../../helpers/fault-proxy.ts";

/** The light client (s3-light-client.ts) for `endpoint`, with the settings a process with the local cloud's environment resolves. */
export async function lightClient(t: TestCloud, endpoint = t.cloud.endpoint, region = t.cloud.region): Promise<LightS3Client> {
  const settings = await plainS3Settings(t.cloud.bucket, {
    HOME: "/nonexistent",
    AWS_ENDPOINT_URL: endpoint,
    AWS_REGION: region,
    AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
  });
  assert.ok(settings, "plain environment settings are the light client's");
  return new LightS3Client(settings);
}

for (const client of ["the AWS SDK's client", "the light client"] as const)
  describe(`S3ObjectStore against cloudbridge local, through ${client}`, () => {
    let t: TestCloud;
    let store: S3ObjectStore;
    before(async () => {
      t = await startTestCloud();
      store = new S3ObjectStore(t.cloud.bucket, client === "the light client" ? await lightClient(t) : t.s3);
    });
    after(async () => {
      if (client === "the light client") store.destroy();
      await t.stop();
    });

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

    it("writes an empty object quietly: nothing printed to the person's terminal", async () => {
      // The AWS SDK prints a warning of its own (on console.warn) for a PUT without a Content-Length;
      // init writes the empty `refs/` folder object, so every new user saw it.
      const printed: unknown[][] = [];
      const warn = console.warn;
      console.warn = (...args: unknown[]) => void printed.push(args);
      try {
        await store.put("empty/folder/", "", { ifNoneMatch: "*" });
        await store.put("empty/buffer", Buffer.alloc(0));
      } finally {
        console.warn = warn;
      }
      const sizes = [(await store.head("empty/folder/"))?.size, (await store.head("empty/buffer"))?.size];
      for (const key of ["empty/folder/", "empty/buffer"]) await store.delete(key); // out of the listings the next test reads
      assert.deepEqual(printed, []);
      assert.deepEqual(sizes, [0, 0]);
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

    it("keeps keys of any characters apart, with their metadata, and lists them in pages", async () => {
      const keys = ["odd/a b+c~é!(x)*'$&=;:@,", "odd/x%2Fy", "odd/日本/ü", "odd/plus+", "odd/tab\tx"];
      for (const [i, key] of keys.entries())
        await store.put(key, `body ${i}`, { contentType: "text/plain", metadata: { index: String(i) } });
      for (const [i, key] of keys.entries()) {
        const read = await store.get(key, { maxBytes: 100 });
        assert.ok(read && read !== "not-modified", key);
        assert.equal(read.body.toString(), `body ${i}`);
        assert.equal((await store.head(key))?.metadata?.index, String(i));
      }
      for (let i = 0; i < 1005; i += 1) await store.put(`many/${String(i).padStart(4, "0")}`, "x");
      let count = 0;
      for await (const info of store.list("many/")) assert.equal(info.key, `many/${String(count++).padStart(4, "0")}`);
      assert.equal(count, 1005, "past one page of 1,000");
      const listed: string[] = [];
      for await (const info of store.list("odd/")) listed.push(info.key);
      assert.deepEqual(listed, [...keys].sort());
    });

    /** A store through this client for `endpoint`, signing for `region`. */
    const storeAt = async (endpoint: string, region: string) =>
      new S3ObjectStore(
        t.cloud.bucket,
        client === "the light client"
          ? await lightClient(t, endpoint, region)
          : createS3Client({ region, endpoint, credentials: LOCAL_CREDENTIALS, maxAttempts: 1 }),
      );
    const explained = (error: unknown) => {
      const found = explainAccessError(error, { bucket: t.cloud.bucket });
      return found && { code: found.code, message: found.message };
    };

    it("says a bucket in another region is there, with the region to set, for S3's bodiless HEAD answer as for its error document", async () => {
      await store.put("region/x", "x");
      const elsewhere = await storeAt(t.cloud.endpoint, "eu-west-1");
      try {
        for (const request of [() => elsewhere.head("region/x"), () => elsewhere.get("region/x")]) {
          const error = await request().then(
            () => assert.fail("a request signed for another region is refused, as S3 refuses it"),
            (e: unknown) => e,
          );
          const said = explained(error);
          assert.equal(said?.code, "wrong-region", String(error));
          assert.match(said.message, /The bucket "cloudbridge" is in the region us-east-1 .*`git config cloudbridge\.region us-east-1`/);
        }
      } finally {
        elsewhere.destroy();
      }
    });

    it("says an endpoint where something else than S3 answers is the wrong endpoint: a web page, an answer without S3's request ids", async () => {
      const server = createServer((request, response) => {
        // A web server's answers: a page for a GET, a bare status for a HEAD (no S3 request ids on either).
        if (request.method === "HEAD") response.writeHead(400).end();
        else response.writeHead(404, { "content-type": "text/html" }).end("<html><head><meta></head><body>Not here</body></html>");
      });
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
      const other = await storeAt(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, t.cloud.region);
      try {
        for (const request of [() => other.head("x"), () => other.get("x")]) {
          const error = await request().then(
            () => assert.fail("not S3's answer"),
            (e: unknown) => e,
          );
          assert.equal(explained(error)?.code, "wrong-endpoint", String(error));
        }
      } finally {
        other.destroy();
        server.close();
      }
    });

    it("takes an S3-compatible service that sends no request ids for S3 when it answers in S3's XML, and a bare 404 to a HEAD for a missing key", async () => {
      const server = createServer((request, response) => {
        // S3's protocol without S3's request ids: error documents for a GET, a bare status for a HEAD.
        const document = (status: number, code: string) =>
          response
            .writeHead(status, { "content-type": "application/xml" })
            .end(`<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${code}</Message></Error>`);
        if (request.method === "HEAD") response.writeHead(404).end();
        else if (request.url?.includes("denied")) document(403, "AccessDenied");
        else document(404, "NoSuchKey");
      });
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
      const compatible = await storeAt(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, t.cloud.region);
      try {
        assert.equal(await compatible.get("missing"), undefined, "a NoSuchKey document is a missing key");
        assert.equal(await compatible.getStream("missing"), undefined);
        assert.equal(await compatible.head("missing"), undefined, "a HEAD's bare 404 is a missing key");
        const error = await compatible.get("denied").then(
          () => assert.fail("refused"),
          (e: unknown) => e,
        );
        assert.equal(explained(error)?.code, "access-denied", String(error));
      } finally {
        compatible.destroy();
        server.close();
      }
    });

    it("detects conditional-write support with a probe", async () => {
      assert.equal(await probeConditionalWrites(store, "probe/conditional"), true);
      assert.equal(await store.head("probe/conditional"), undefined, "the probe cleans up after itself");
    });
  });

describe("the light client through a faulty network: what the SDK retries, it retries", () => {
  let t: TestCloud;
  let proxy: FaultProxy;
  let store: S3ObjectStore;
  before(async () => {
    t = await startTestCloud();
    proxy = await startFaultProxy({
      target: t.cloud.endpoint,
      seed: 13,
      // The first request of each kind fails: 500, 503, SlowDown, a reset before and after the cloud saw it, a cut body (of an
      // object and of a listing).
      script: (method, path, n) => {
        if (method === "GET" && path.endsWith(`/${t.cloud.bucket}/`)) return n === 0 ? "error503" : n === 1 ? "cutBody" : undefined;
        if (n > 0) return undefined;
        if (method === "PUT") return path.includes("reset") ? "resetAfter" : "error500";
        return method === "HEAD" ? "resetBefore" : method === "DELETE" ? "slowDown" : "cutBody";
      },
    });
    store = new S3ObjectStore(t.cloud.bucket, await lightClient(t, proxy.endpoint));
  });
  after(async () => {
    store.destroy();
    await proxy.stop();
    await t.stop();
  });

  it("writes, reads, lists and deletes through 500s, 503s, resets and cut bodies", async () => {
    const body = Buffer.alloc(64 * 1024, 7);
    await store.put("faults/object", body);
    await store.put("faults/reset", "x", { ifNoneMatch: "*" }).catch((error: unknown) => {
      // Its first attempt was applied and its answer lost: the retry meets the object it wrote, as with the SDK.
      assert.ok(error instanceof PreconditionFailed, String(error));
    });
    const read = await store.get("faults/object");
    assert.ok(read && read !== "not-modified");
    assert.deepEqual(read.body, body);
    assert.equal((await store.head("faults/object"))?.size, body.length);
    const listed: string[] = [];
    for await (const info of store.list("faults/")) listed.push(info.key);
    assert.deepEqual(listed, ["faults/object", "faults/reset"]);
    await store.delete("faults/object");
    assert.equal(await store.head("faults/object"), undefined);
    for (const fault of ["error500", "error503", "slowDown", "resetBefore", "resetAfter", "cutBody"] as const)
      assert.ok(proxy.counts[fault] >= 1, `${fault} was injected (${JSON.stringify(proxy.counts)})`);
  });
});

describe("a small body cut off before its reader begins (a download opening its file first)", () => {
  let t: TestCloud;
  let proxy: FaultProxy;
  before(async () => {
    t = await startTestCloud();
    // Every object's first GET is cut half-way; the whole of a small body is in the socket's buffer at once.
    proxy = await startFaultProxy({
      target: t.cloud.endpoint,
      seed: 17,
      script: (method, path, n) => (method === "GET" && path.includes("/cut/") && n === 0 ? "cutBody" : undefined),
    });
  });
  after(async () => {
    await proxy.stop();
    await t.stop();
  });

  for (const client of ["the AWS SDK's client", "the light client"] as const)
    it(`through ${client}: the read fails with the cut, as a dropped connection, and the process goes on`, async () => {
      const requests =
        client === "the light client"
          ? await lightClient(t, proxy.endpoint)
          : createS3Client({ endpoint: proxy.endpoint, region: t.cloud.region, credentials: LOCAL_CREDENTIALS });
      const store = new S3ObjectStore(t.cloud.bucket, requests);
      try {
        const key = `cut/${client.split(" ").at(-2)}`;
        await store.put(key, Buffer.alloc(6000, 7));
        const object = await store.getStream(key);
        assert.ok(object);
        // The SDK's checksum stream has seen the cut by now, with no reader yet.
        await new Promise((resolve) => setTimeout(resolve, 200));
        await assert.rejects(
          async () => {
            for await (const _ of object.stream);
          },
          (error: NodeJS.ErrnoException) => error.code === "ECONNRESET",
        );
        const again = await store.get(key);
        assert.ok(again && again !== "not-modified" && again.body.length === 6000, "read whole the second time");
      } finally {
        store.destroy();
      }
    });
});
