import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { after, before, describe, it } from "node:test";
import {
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
  UploadPartCommand,
} from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { ReceiveMessageCommand } from "@aws-sdk/client-sqs";
import { LOCAL_CREDENTIALS } from "../../../local/cloud.ts";
import { decodeChangeMessage } from "../../../protocol/change-message.ts";
import { startTestCloud, subscribeQueue, type TestCloud } from "../../helpers/local-cloud.ts";

const Bucket = "cloudbridge";

async function status(promise: Promise<unknown>): Promise<number> {
  try {
    await promise;
    return 200;
  } catch (error) {
    if (error instanceof S3ServiceException) return error.$metadata.httpStatusCode ?? 0;
    throw error;
  }
}

async function readBody(s3: S3Client, Key: string): Promise<Buffer> {
  const response = await s3.send(new GetObjectCommand({ Bucket, Key }));
  return Buffer.from(await response.Body!.transformToByteArray());
}

/** Starts a multipart upload of `key` and sends these parts, numbered from 1. */
async function uploadParts(s3: S3Client, Key: string, parts: Buffer[]) {
  const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket, Key }));
  const sent = [];
  for (const [i, Body] of parts.entries()) {
    const { ETag } = await s3.send(new UploadPartCommand({ Bucket, Key, UploadId, PartNumber: i + 1, Body }));
    sent.push({ PartNumber: i + 1, ETag: ETag! });
  }
  return Object.assign(sent, { uploadId: UploadId! });
}

function completeParts(s3: S3Client, Key: string, UploadId: string, Parts: Array<{ PartNumber: number; ETag: string }>) {
  return s3.send(new CompleteMultipartUploadCommand({ Bucket, Key, UploadId, MultipartUpload: { Parts } }));
}

describe("cloudbridge local: S3's answers say they are S3's, and where the bucket is", () => {
  let t: TestCloud;
  before(async () => (t = await startTestCloud()));
  after(async () => t.stop());

  it("marks every S3 answer as AWS does (Server: AmazonS3, request ids), errors and HEADs included, and names the bucket's region on a HEAD of it", async () => {
    await t.s3.send(new PutObjectCommand({ Bucket, Key: "marked", Body: "x" }));
    for (const [method, path] of [
      ["GET", `/${Bucket}/marked`],
      ["HEAD", `/${Bucket}/marked`],
      ["HEAD", `/${Bucket}/absent`],
      ["GET", `/${Bucket}/absent`],
      ["HEAD", "/no-such-bucket"],
      ["GET", `/${Bucket}?list-type=2`],
    ] as const) {
      const answer = await fetch(`${t.cloud.endpoint}${path}`, { method });
      await answer.arrayBuffer();
      assert.equal(answer.headers.get("server"), "AmazonS3", `${method} ${path}`);
      assert.ok(answer.headers.get("x-amz-request-id") && answer.headers.get("x-amz-id-2"), `${method} ${path}`);
    }
    const head = await fetch(`${t.cloud.endpoint}/${Bucket}`, { method: "HEAD" });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get("x-amz-bucket-region"), t.cloud.region);
  });

  it("refuses a request signed for another region as S3 does: 400 naming the bucket's region, with no body for a HEAD", async () => {
    const elsewhere = new S3Client({
      region: "eu-west-1",
      endpoint: t.cloud.endpoint,
      forcePathStyle: true,
      credentials: LOCAL_CREDENTIALS,
      maxAttempts: 1,
    });
    try {
      await t.s3.send(new PutObjectCommand({ Bucket, Key: "region", Body: "x" }));
      for (const command of [new HeadObjectCommand({ Bucket, Key: "region" }), new GetObjectCommand({ Bucket, Key: "region" })]) {
        const error = (await elsewhere.send(command as GetObjectCommand).then(
          () => assert.fail("refused"),
          (e: unknown) => e,
        )) as S3ServiceException & { $response: { headers: Record<string, string> }; Region?: string };
        assert.equal(error.$metadata.httpStatusCode, 400);
        assert.equal(error.$response.headers["x-amz-bucket-region"], t.cloud.region);
        if (command instanceof GetObjectCommand) {
          assert.equal(error.name, "AuthorizationHeaderMalformed");
          assert.match(error.message, /the region 'eu-west-1' is wrong; expecting 'us-east-1'/);
          assert.equal(error.Region, t.cloud.region);
        }
      }
    } finally {
      elsewhere.destroy();
    }
  });
});

describe("cloudbridge local: S3 conditional writes", () => {
  let t: TestCloud;
  before(async () => (t = await startTestCloud()));
  after(async () => t.stop());

  it("two concurrent If-None-Match:* PUTs of one key: exactly one succeeds, the other gets 412", async () => {
    for (let round = 0; round < 10; round += 1) {
      const Key = `race/create-${round}`;
      const results = await Promise.all(
        ["a", "b"].map((Body) => status(t.s3.send(new PutObjectCommand({ Bucket, Key, Body, IfNoneMatch: "*" })))),
      );
      assert.deepEqual(results.sort(), [200, 412]);
    }
  });

  it("If-Match: a stale ETag gets 412, the current one succeeds, a missing key gets 404", async () => {
    const Key = "cas/object";
    const first = await t.s3.send(new PutObjectCommand({ Bucket, Key, Body: "one" }));
    const second = await t.s3.send(new PutObjectCommand({ Bucket, Key, Body: "two", IfMatch: first.ETag }));
    assert.equal(await status(t.s3.send(new PutObjectCommand({ Bucket, Key, Body: "stale", IfMatch: first.ETag }))), 412);
    assert.equal(await status(t.s3.send(new PutObjectCommand({ Bucket, Key, Body: "three", IfMatch: second.ETag }))), 200);
    assert.equal((await readBody(t.s3, Key)).toString(), "three");
    assert.equal(await status(t.s3.send(new PutObjectCommand({ Bucket, Key: "cas/missing", Body: "x", IfMatch: first.ETag }))), 404);
  });

  it("50 concurrent compare-and-swap increments of one counter lose no increment", async () => {
    const Key = "cas/counter";
    await t.s3.send(new PutObjectCommand({ Bucket, Key, Body: "0" }));
    let conflicts = 0;
    const increment = async () => {
      for (;;) {
        const current = await t.s3.send(new GetObjectCommand({ Bucket, Key }));
        const value = Number(await current.Body!.transformToString());
        const result = await status(t.s3.send(new PutObjectCommand({ Bucket, Key, Body: String(value + 1), IfMatch: current.ETag })));
        if (result === 200) return;
        assert.equal(result, 412);
        conflicts += 1;
      }
    };
    await Promise.all(Array.from({ length: 50 }, increment));
    assert.equal((await readBody(t.s3, Key)).toString(), "50");
    assert.ok(conflicts > 0, "the increments should have raced at least once");
  });

  it("honours conditions on CopyObject and CompleteMultipartUpload", async () => {
    await t.s3.send(new PutObjectCommand({ Bucket, Key: "copy/src", Body: "source" }));
    await t.s3.send(new PutObjectCommand({ Bucket, Key: "copy/dst", Body: "exists" }));
    const { CopyObjectCommand } = await import("@aws-sdk/client-s3");
    assert.equal(
      await status(t.s3.send(new CopyObjectCommand({ Bucket, Key: "copy/dst", CopySource: `${Bucket}/copy/src`, IfNoneMatch: "*" }))),
      412,
    );
    assert.equal(
      await status(t.s3.send(new CopyObjectCommand({ Bucket, Key: "copy/new", CopySource: `${Bucket}/copy/src`, IfNoneMatch: "*" }))),
      200,
    );
    const { UploadId } = await t.s3.send(new CreateMultipartUploadCommand({ Bucket, Key: "copy/dst" }));
    const part = await t.s3.send(new UploadPartCommand({ Bucket, Key: "copy/dst", UploadId, PartNumber: 1, Body: "part" }));
    const complete = (IfNoneMatch?: string) =>
      t.s3.send(
        new CompleteMultipartUploadCommand({
          Bucket,
          Key: "copy/dst",
          UploadId,
          MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag }] },
          ...(IfNoneMatch ? { IfNoneMatch } : {}),
        }),
      );
    assert.equal(await status(complete("*")), 412);
    assert.equal((await readBody(t.s3, "copy/dst")).toString(), "exists");
  });
});

describe("cloudbridge local: objects", () => {
  let t: TestCloud;
  before(async () => (t = await startTestCloud()));
  after(async () => t.stop());

  it("round-trips an empty object", async () => {
    await t.s3.send(new PutObjectCommand({ Bucket, Key: "empty", Body: "" }));
    assert.equal((await readBody(t.s3, "empty")).length, 0);
  });

  it("round-trips a 24 MiB streamed upload (lib-storage, multipart) and a 24 MiB single PUT byte-exact", async () => {
    const data = randomBytes(24 * 1024 * 1024);
    const digest = createHash("sha256").update(data).digest("hex");
    const chunks = function* () {
      for (let i = 0; i < data.length; i += 1024 * 1024) yield data.subarray(i, i + 1024 * 1024);
    };
    const upload = new Upload({
      client: t.s3,
      params: { Bucket, Key: "big/streamed", Body: Readable.from(chunks()) },
      partSize: 5 * 1024 * 1024,
    });
    await upload.done();
    const head = await t.s3.send(new HeadObjectCommand({ Bucket, Key: "big/streamed" }));
    assert.match(head.ETag ?? "", /-5"$/, "a 24 MiB stream in 5 MiB parts is a 5-part multipart upload");
    assert.equal(
      createHash("sha256")
        .update(await readBody(t.s3, "big/streamed"))
        .digest("hex"),
      digest,
    );
    await t.s3.send(new PutObjectCommand({ Bucket, Key: "big/single", Body: data }));
    assert.equal(
      createHash("sha256")
        .update(await readBody(t.s3, "big/single"))
        .digest("hex"),
      digest,
    );
  });

  it("completes a multipart upload as S3 does: ETag of the part MD5s, parts checked, each part readable by number", async () => {
    const parts = [randomBytes(5 * 1024 * 1024), randomBytes(5 * 1024 * 1024), randomBytes(1024 * 1024)];
    const md5 = (bytes: Buffer) => createHash("md5").update(bytes).digest();
    // S3's multipart ETag: the MD5 of the parts' binary MD5s, a dash, the number of parts.
    const expected = `"${createHash("md5")
      .update(Buffer.concat(parts.map(md5)))
      .digest("hex")}-3"`;
    const uploaded = await uploadParts(t.s3, "multipart/three", parts);
    assert.deepEqual(
      uploaded.map((p) => p.ETag),
      parts.map((p) => `"${md5(p).toString("hex")}"`),
    );
    const refusals = [
      [{ ...uploaded[0]!, ETag: `"${"0".repeat(32)}"` }, uploaded[1]!, uploaded[2]!],
      [uploaded[1]!, uploaded[0]!, uploaded[2]!],
      [uploaded[0]!, { PartNumber: 4, ETag: uploaded[1]!.ETag }],
    ];
    for (const refused of refusals) assert.equal(await status(completeParts(t.s3, "multipart/three", uploaded.uploadId, refused)), 400);
    const done = await completeParts(t.s3, "multipart/three", uploaded.uploadId, uploaded);
    assert.equal(done.ETag, expected);
    assert.equal((await t.s3.send(new HeadObjectCommand({ Bucket, Key: "multipart/three" }))).ETag, expected);
    assert.ok((await readBody(t.s3, "multipart/three")).equals(Buffer.concat(parts)));
    const second = await t.s3.send(new GetObjectCommand({ Bucket, Key: "multipart/three", PartNumber: 2 }));
    assert.ok(Buffer.from(await second.Body!.transformToByteArray()).equals(parts[1]!));
    // A part below 5 MiB that is not the last one: S3 refuses at completion.
    const small = await uploadParts(t.s3, "multipart/small", [randomBytes(1024), randomBytes(1024)]);
    assert.equal(await status(completeParts(t.s3, "multipart/small", small.uploadId, small)), 400);
  });

  it("lists a git-shaped layout with delimiter and continuation tokens", async () => {
    const keys = [
      "repos/a.git/HEAD",
      "repos/a.git/info/refs",
      "repos/a.git/objects/info/packs",
      ...Array.from({ length: 23 }, (_, i) => `repos/a.git/objects/pack/pack-${String(i).padStart(40, "0")}.pack`),
      "repos/a.git/refs/heads/main",
      "repos/a.git/refs/synced/0f8fad5b-d9cb-469f-a165-70867728950e/heads/main",
      "repos/ab.git/HEAD",
    ];
    await Promise.all(keys.map((Key) => t.s3.send(new PutObjectCommand({ Bucket, Key, Body: "x" }))));

    const top = await t.s3.send(new ListObjectsV2Command({ Bucket, Prefix: "repos/a.git/", Delimiter: "/" }));
    assert.deepEqual(
      top.Contents?.map((o) => o.Key),
      ["repos/a.git/HEAD"],
    );
    assert.deepEqual(
      top.CommonPrefixes?.map((p) => p.Prefix),
      ["repos/a.git/info/", "repos/a.git/objects/", "repos/a.git/refs/"],
    );
    const deeper = await t.s3.send(new ListObjectsV2Command({ Bucket, Prefix: "repos/a.git/refs/", Delimiter: "/" }));
    assert.deepEqual(
      deeper.CommonPrefixes?.map((p) => p.Prefix),
      ["repos/a.git/refs/heads/", "repos/a.git/refs/synced/"],
    );

    const paged: string[] = [];
    let ContinuationToken: string | undefined;
    let pages = 0;
    do {
      const page = await t.s3.send(
        new ListObjectsV2Command({ Bucket, Prefix: "repos/a.git/objects/pack/", MaxKeys: 5, ContinuationToken }),
      );
      paged.push(...(page.Contents ?? []).map((o) => o.Key!));
      ContinuationToken = page.IsTruncated ? page.NextContinuationToken : undefined;
      pages += 1;
    } while (ContinuationToken);
    assert.equal(pages, 5);
    assert.deepEqual(paged, keys.filter((k) => k.includes("/objects/pack/")).sort());

    const all = await t.s3.send(new ListObjectsV2Command({ Bucket, Prefix: "repos/a.git/" }));
    assert.ok(!all.Contents?.some((o) => o.Key?.startsWith("repos/ab.git/")), "a trailing / keeps repo ab out of repo a");
  });

  it("refuses keys with '..' segments instead of storing them", async () => {
    assert.equal(await status(t.s3.send(new PutObjectCommand({ Bucket, Key: "repos/../../escape", Body: "x" }))), 400);
  });
});

describe("cloudbridge local: bucket events reach SNS and SQS through the real change function", () => {
  let t: TestCloud;
  before(async () => (t = await startTestCloud()));
  after(async () => t.stop());

  const subscribedQueue = (name: string) => subscribeQueue(t, name);

  async function receive(QueueUrl: string) {
    const { Messages } = await t.sqs.send(new ReceiveMessageCommand({ QueueUrl, WaitTimeSeconds: 2, MaxNumberOfMessages: 10 }));
    return (Messages ?? []).map((m) => decodeChangeMessage(m.Body!));
  }

  it("a PUT to repos/demo.git/refs/heads/main reaches a subscribed queue, within one long poll", async () => {
    const queue = await subscribedQueue("agent-ref-test");
    const started = performance.now();
    const put = await t.s3.send(new PutObjectCommand({ Bucket, Key: "repos/demo.git/refs/heads/main", Body: `${"1".repeat(40)}\n` }));
    const [message] = await receive(queue);
    const elapsed = performance.now() - started;
    assert.ok(message, "a change message arrived");
    assert.equal(message.kind, "refs");
    assert.equal(message.repo, "demo");
    assert.equal(message.kind === "refs" && message.ref, "refs/heads/main");
    assert.equal(message.etag, put.ETag!.replaceAll('"', ""));
    // How fast is a benchmark's figure (`npm run bench:xmpp`, `bench:agent`), not a bound a loaded
    // machine can break: here it only has to arrive within the one 2 s long poll.
    process.stderr.write(`# arrived in ${elapsed.toFixed(0)} ms\n`);
  });

  it("a key with spaces and + survives the round trip; packs produce no message", async () => {
    const queue = await subscribedQueue("agent-key-test");
    await t.s3.send(new PutObjectCommand({ Bucket, Key: `repos/demo.git/objects/pack/pack-${"2".repeat(40)}.pack`, Body: "PACK" }));
    const key = "WORM-s5-m1700000000--my holiday+plans v2.txt";
    await t.s3.send(new PutObjectCommand({ Bucket, Key: `annex/demo/${key}`, Body: "hello" }));
    await t.cloud.settle();
    const messages = await receive(queue);
    assert.equal(messages.length, 1, "only the content change is announced");
    assert.equal(messages[0]!.kind, "content");
    assert.equal(messages[0]!.kind === "content" && messages[0]!.key, key);
    assert.equal(messages[0]!.size, 5);
  });
});

describe("cloudbridge local: --data keeps state across a restart", () => {
  it("finds the same objects after a restart", async () => {
    const dataDir = await mkdtemp(join(tmpdir(), "cloudbridge-data-"));
    try {
      const first = await startTestCloud({ dataDir });
      await first.s3.send(new PutObjectCommand({ Bucket, Key: "repos/demo.git/HEAD", Body: "ref: refs/heads/main\n" }));
      const parts = [randomBytes(5 * 1024 * 1024), randomBytes(1024)];
      const uploaded = await uploadParts(first.s3, "big/two-parts", parts);
      const { ETag } = await completeParts(first.s3, "big/two-parts", uploaded.uploadId, uploaded);
      await first.stop();
      const second = await startTestCloud({ dataDir });
      assert.equal((await readBody(second.s3, "repos/demo.git/HEAD")).toString(), "ref: refs/heads/main\n");
      assert.ok((await readBody(second.s3, "big/two-parts")).equals(Buffer.concat(parts)));
      assert.equal((await second.s3.send(new HeadObjectCommand({ Bucket, Key: "big/two-parts" }))).ETag, ETag);
      assert.equal(
        await status(second.s3.send(new PutObjectCommand({ Bucket, Key: "repos/demo.git/HEAD", Body: "x", IfNoneMatch: "*" }))),
        412,
      );
      await second.stop();
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});

describe("cloudbridge local: the command", () => {
  it("prints the endpoint and the environment an agent needs, and stops cleanly on Ctrl-C", async () => {
    // As a person runs it: bin/cloudbridge hands `local` to local/main.ts without loading the agent.
    const child = spawn("bin/cloudbridge", ["local", "--port", "0"], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (chunk) => (out += chunk));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no banner after 15 s: ${out}`)), 15_000);
      child.stdout.on("data", () => out.includes("Ctrl-C") && (clearTimeout(timer), resolve()));
    });
    const endpoint = /AWS_ENDPOINT_URL=(http:\/\/127\.0\.0\.1:\d+)/.exec(out)?.[1];
    assert.ok(endpoint, out);
    assert.match(out, /AWS_REGION=us-east-1/);
    assert.match(out, /AWS_ACCESS_KEY_ID=/);
    const health = await fetch(`${endpoint}/health`);
    assert.equal(health.status, 200);
    child.kill("SIGINT");
    const code = await new Promise((resolve) => child.on("exit", resolve));
    assert.equal(code, 0);
    assert.match(out, /stopped/);
  });
});
