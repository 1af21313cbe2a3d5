import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { createRequire } from "node:module";
import { describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { bucketStore, createS3Client, S3ObjectStore, type S3Requests } from "../../../objectstore/index.ts";

/** Whether this process has loaded the AWS SDK's S3 module (it is loaded through `require`: s3Sdk). */
const sdkLoaded = () => Object.keys(createRequire(import.meta.url).cache).some((path) => path.includes("/@aws-sdk/client-s3/"));

/** Requests that answer nothing and fail the test if the SDK's client is asked for. */
function requestsWithoutSdk(): S3Requests & { destroyed: number } {
  const unused = () => Promise.reject(new Error("no request expected"));
  return {
    destroyed: 0,
    closed: new AbortController().signal,
    getObject: unused,
    headObject: unused,
    putObject: unused,
    listObjectsV2: unused,
    deleteObject: unused,
    sdkClient: () => assert.fail("the SDK's client was made"),
    destroy() {
      this.destroyed += 1;
    },
  };
}

describe("a store's lifecycle: closed by destroy(), the SDK's client reached by multipart uploads only", () => {
  it("the SDK's client cannot be reached from outside the store, so a caller cannot close the store through it", () => {
    const requests = requestsWithoutSdk();
    const store = new S3ObjectStore("bucket", requests, undefined);
    // Closing a store through its SDK client (`store.client.destroy()`) over the light client made that client,
    // loading the SDK's module (~110 ms of CPU), only to close it: no such member can be written any more.
    // @ts-expect-error -- the store has no public SDK client: close it with destroy()
    assert.equal(store.client, undefined);
    assert.ok(!("client" in store));
    store.destroy();
    assert.equal(requests.destroyed, 1);
  });

  it("over the light client, a store that read and was closed loaded no AWS SDK module", async () => {
    const server = createServer((request, response) => {
      // S3's answers, with the request ids S3 marks every answer with.
      response.statusCode = request.method === "HEAD" ? 404 : 500;
      response.setHeader("x-amz-request-id", "0000000000000000");
      response.setHeader("x-amz-id-2", "lifecycle");
      response.end();
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const env = { AWS_ACCESS_KEY_ID: "key", AWS_SECRET_ACCESS_KEY: "secret", AWS_REGION: "us-east-1", AWS_CONFIG_FILE: "/nonexistent" };
      const store = await bucketStore("bucket", { endpoint }, { ...env, AWS_SHARED_CREDENTIALS_FILE: "/nonexistent" });
      assert.equal(await store.head("missing"), undefined);
      store.destroy();
      assert.equal(sdkLoaded(), false, "the store reached the bucket and was closed without the SDK");
    } finally {
      server.close();
    }
  });

  it("closing a store cuts its requests in flight, a multipart upload's too, and none is sent again", async () => {
    // A bucket that never answers, as over a network gone silent.
    let received = 0;
    const server = createServer(() => void (received += 1));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const key = { accessKeyId: "key", secretAccessKey: "secret" };
      const env = { AWS_ACCESS_KEY_ID: key.accessKeyId, AWS_SECRET_ACCESS_KEY: key.secretAccessKey, AWS_REGION: "us-east-1" };
      const stores = {
        light: () =>
          bucketStore("bucket", { endpoint }, { ...env, AWS_CONFIG_FILE: "/nonexistent", AWS_SHARED_CREDENTIALS_FILE: "/nonexistent" }),
        sdk: async () => new S3ObjectStore("bucket", createS3Client({ endpoint, region: "us-east-1", credentials: key }), endpoint),
      };
      for (const [client, open] of Object.entries(stores)) {
        received = 0;
        const store = await open();
        const requests = [
          store.head("small"),
          store.createMultipartUpload("large"),
          store.uploadPart("large", "upload", 1, Buffer.alloc(16)),
        ];
        for (let i = 0; i < 500 && received < requests.length; i++) await sleep(10);
        assert.equal(received, requests.length, `${client}: every request reached the bucket`);
        store.destroy();
        const outcomes = await Promise.race([Promise.allSettled(requests), sleep(5000).then(() => "still waiting" as const)]);
        if (outcomes === "still waiting") assert.fail(`${client}: the requests did not end with the store`);
        assert.ok(
          outcomes.every((outcome) => outcome.status === "rejected"),
          `${client}: each failed`,
        );
        await sleep(300);
        assert.equal(received, requests.length, `${client}: none was sent again on a new connection`);
      }
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });
});
