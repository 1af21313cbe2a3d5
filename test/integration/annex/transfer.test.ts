import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { chmodSync, existsSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { before, describe, it } from "node:test";
import { useAgentPair } from "../../helpers/test-bed.ts";
import { HeadObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { PassThrough, Readable } from "node:stream";
import { AnnexError } from "../../../annex/index.ts";
import { downloadKey } from "../../../annex/transfer/download.ts";
import { uploadKey } from "../../../annex/transfer/upload.ts";
import type { TestCloud } from "../../helpers/local-cloud.ts";
import type { AgentRepo } from "../../helpers/annex-repos.ts";
import { sha256eKey } from "../../../protocol/annex-key.ts";

describe("annexed content through the local cloud", () => {
  let test: TestCloud;
  let a: AgentRepo;
  let b: AgentRepo;
  const pair = useAgentPair("photos");

  before(async () => {
    ({ test, a, b } = pair);
  });

  it("moves a multipart-sized file from A to B byte-exact, with location logs and console metadata", async () => {
    const content = randomBytes(21 * 1024 * 1024 + 17);
    writeFileSync(join(a.dir, "holiday.mp4"), content);
    const key = await a.annex.add(join(a.dir, "holiday.mp4"));
    assert.equal(key, sha256eKey(createHash("sha256").update(content).digest("hex"), content.length, "holiday.mp4"));
    const uploaded = await a.annex.upload([{ key, fileName: "holiday.mp4" }], { partSize: 5 * 1024 * 1024 });
    assert.equal(uploaded.get(key)?.uploaded, true);
    const head = await a.annex.cloud.store.head(`annex/photos/${key}`);
    assert.equal(head?.size, content.length);
    assert.equal(head?.metadata?.filename, "holiday.mp4");
    const shown = await test.s3.send(new HeadObjectCommand({ Bucket: test.cloud.bucket, Key: `annex/photos/${key}` }));
    assert.equal(shown.ContentType, "video/mp4", "the S3 console shows what the object is");
    assert.match(head?.etag ?? "", /-\d+$/, "uploaded as a multipart object");

    await b.sync();
    const where = await b.annex.whereis(key);
    assert.deepEqual(where.map((l) => l.description).sort(), ["agent A", "cloud"]);
    await b.annex.get([{ key }], { partSize: 5 * 1024 * 1024 });
    assert.ok(readFileSync(b.annex.local.objectPath(key)).equals(content));
    const after = await b.annex.whereis(key);
    assert.deepEqual(after.map((l) => l.description).sort(), ["agent A", "agent B", "cloud"]);
    assert.equal((await b.annex.upload([{ key }])).get(key)?.uploaded, false, "content already in the cloud is not sent again");
  });

  it("refuses an object whose bytes do not match its key and leaves the local copy absent", async () => {
    for (const size of [1000, 20 * 1024 * 1024]) {
      const content = randomBytes(size);
      const key = sha256eKey(createHash("sha256").update(content).digest("hex"), size, "report.pdf");
      const tampered = Buffer.from(content);
      tampered[size >> 1] = tampered[size >> 1]! ^ 0xff;
      await test.s3.send(
        new PutObjectCommand({
          Bucket: test.cloud.bucket,
          Key: `annex/photos/${key}`,
          Body: tampered,
        }),
      );
      await assert.rejects(b.annex.get([{ key }], { partSize: 5 * 1024 * 1024 }), (error: Error) => {
        assert.ok(error instanceof AnnexError && error.code === "corrupt-object", String(error));
        assert.match(error.message, /do not match the key/);
        assert.match(error.message, /local copy stays absent/);
        return true;
      });
      assert.equal(await b.annex.local.has(key), false);
      assert.equal(existsSync(b.annex.local.objectPath(key)), false);
      assert.deepEqual(
        readdirSync(b.annex.local.tmpDir).filter((f) => f.startsWith(key)),
        [],
        "no temporary file or range record is left",
      );
      assert.equal(
        (await b.annex.whereis(key)).some((l) => l.here),
        false,
        "not marked present",
      );
    }
  });

  it("refuses a small object longer than its key at its first byte too many, not once the whole object is on disk", async () => {
    const content = randomBytes(1000);
    const key = sha256eKey(createHash("sha256").update(content).digest("hex"), content.length, "note.txt");
    // Someone who can write the bucket put 32 MiB more under a key that says 1000 bytes.
    const huge = Buffer.concat([content, Buffer.alloc(32 * 1024 * 1024)]);
    await test.s3.send(new PutObjectCommand({ Bucket: test.cloud.bucket, Key: `annex/photos/${key}`, Body: huge }));
    let read = 0;
    const inner = b.annex.cloud.store;
    const counting = new Proxy(inner, {
      get(target, name) {
        if (name === "getStream") {
          return async (...args: Parameters<typeof inner.getStream>) => {
            const object = await target.getStream(...args);
            if (!object) return object;
            // Counts what the download pulled from the body (a few chunks ahead at most).
            const pulled = Readable.from(
              (async function* () {
                for await (const chunk of object.stream) {
                  read += (chunk as Buffer).length;
                  yield chunk as Buffer;
                }
              })(),
            );
            return { ...object, stream: pulled };
          };
        }
        const value = Reflect.get(target, name) as unknown;
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    await assert.rejects(downloadKey(b.annex.local, { ...b.annex.cloud, store: counting }, key), (error: Error) => {
      assert.ok(error instanceof AnnexError && error.code === "corrupt-object", String(error));
      assert.match(error.message, /longer than the 1000 bytes the key says/);
      return true;
    });
    assert.ok(read < 4 * 1024 * 1024, `the download stopped reading early (${read} of ${huge.length} bytes read)`);
    assert.equal(await b.annex.local.has(key), false);
    assert.deepEqual(
      readdirSync(b.annex.local.tmpDir).filter((f) => f.startsWith(key)),
      [],
      "no temporary file is left",
    );
  });

  it("downloads a small file after .git/annex/tmp was removed (the folder is made again when missing)", async () => {
    writeFileSync(join(a.dir, "small.txt"), "a few bytes\n");
    const key = await a.annex.add(join(a.dir, "small.txt"));
    await a.annex.upload([{ key }]);
    rmSync(b.annex.local.tmpDir, { recursive: true, force: true });
    assert.equal((await downloadKey(b.annex.local, b.annex.cloud, key)).downloaded, true);
    assert.equal(readFileSync(b.annex.local.objectPath(key), "utf8"), "a few bytes\n");
  });

  it("retries transient errors (a part's connection reset, a range cut mid-body) and restarts a vanished multipart upload", async () => {
    const content = randomBytes(17 * 1024 * 1024);
    writeFileSync(join(a.dir, "flaky.bin"), content);
    const key = await a.annex.add(join(a.dir, "flaky.bin"));
    const reset = () => Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET" });
    const faults = { resets: 0, ranges: 0 };
    const inner = a.annex.cloud.store;
    const flaky = new Proxy(inner, {
      get(target, name) {
        if (name === "uploadPart") {
          return async (...args: Parameters<typeof inner.uploadPart>) => {
            if (args[2] === 2 && faults.resets === 0) {
              faults.resets++;
              throw reset();
            }
            return target.uploadPart(...args);
          };
        }
        if (name === "getStream") {
          return async (...args: Parameters<typeof inner.getStream>) => {
            const object = await target.getStream(...args);
            if (!object || !args[1]?.range || faults.ranges++ > 0) return object;
            // The first range: a few bytes, then the connection drops.
            const cut = new PassThrough();
            object.stream.once("data", (chunk: Buffer) => {
              object.stream.destroy();
              cut.write(chunk.subarray(0, 100));
              cut.destroy(reset());
            });
            return { ...object, stream: cut };
          };
        }
        const value = Reflect.get(target, name) as unknown;
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    const cloud = { ...a.annex.cloud, store: flaky };
    // A record left by a run whose upload no longer exists (aborted by a lifecycle rule, say).
    const record = join(a.gitDir, "annex", "cloudbridge", "uploads", `${key}.json`);
    writeFileSync(
      record,
      JSON.stringify({
        bucketKey: `annex/photos/${key}`,
        uploadId: "gone",
        size: content.length,
        partSize: 5 * 1024 * 1024,
        parts: { "1": "0".repeat(32) },
      }),
    );
    assert.equal((await uploadKey(a.annex.local, cloud, key)).uploaded, true);
    assert.equal(faults.resets, 1, "part 2's connection was reset once, and the upload still completed");
    assert.equal(existsSync(record), false);
    assert.equal((await downloadKey(b.annex.local, cloud, key)).downloaded, true);
    assert.equal(faults.ranges, 2 + Math.ceil(content.length / (8 * 1024 * 1024)) - 1, "the cut range was fetched again");
    assert.ok(readFileSync(b.annex.local.objectPath(key)).equals(content));
  });

  it("does not retry what is not transient: a refused part fails the upload at once", async () => {
    writeFileSync(join(a.dir, "denied.bin"), randomBytes(17 * 1024 * 1024));
    const key = await a.annex.add(join(a.dir, "denied.bin"));
    let calls = 0;
    const inner = a.annex.cloud.store;
    const denying = new Proxy(inner, {
      get(target, name) {
        if (name === "uploadPart") {
          return async () => {
            calls++;
            throw Object.assign(new Error("Access Denied"), { name: "AccessDenied", $metadata: { httpStatusCode: 403 } });
          };
        }
        const value = Reflect.get(target, name) as unknown;
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    await assert.rejects(uploadKey(a.annex.local, { ...a.annex.cloud, store: denying }, key, { concurrency: 1 }), /Access Denied/);
    assert.equal(calls, 1);
    assert.equal(await inner.head(`annex/photos/${key}`), undefined, "nothing under the key");
  });

  it("refuses to upload a damaged local copy: nothing appears under the key", async () => {
    for (const size of [2000, 17 * 1024 * 1024]) {
      writeFileSync(join(a.dir, `rot-${size}.bin`), randomBytes(size));
      const key = await a.annex.add(join(a.dir, `rot-${size}.bin`));
      const object = a.annex.local.objectPath(key);
      chmodSync(object, 0o644);
      writeFileSync(object, randomBytes(size)); // bit rot: same size, other bytes
      await assert.rejects(uploadKey(a.annex.local, a.annex.cloud, key), (error: Error) => {
        assert.ok(error instanceof AnnexError && error.code === "corrupt-local-content", String(error));
        assert.match(error.message, /does not match its key: its sha256 is [0-9a-f]{64}\. Nothing was uploaded/);
        return true;
      });
      assert.equal(await a.annex.cloud.store.head(`annex/photos/${key}`), undefined);
      assert.equal(existsSync(join(a.gitDir, "annex", "cloudbridge", "uploads", `${key}.json`)), false);
    }
  });
});
