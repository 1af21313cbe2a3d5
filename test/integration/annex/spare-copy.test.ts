import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { useAgentPair } from "../../helpers/test-bed.ts";
import { PutObjectCommand } from "@aws-sdk/client-s3";
import { sha256eKey } from "../../../protocol/annex-key.ts";

/**
 * A large download asked for a spare writes the bytes twice as they arrive — the temporary that becomes the
 * store's object, and a spare copy — so the file put in the work tree is the spare, not a second write of
 * the whole file from the store after the download. The spare is trusted only once the download verified
 * the bytes, never replaces a file that is already there, and is never left behind.
 */
describe("a download's spare copy becomes the work-tree file", () => {
  const pair = useAgentPair("spare");
  const PART = 5 * 1024 * 1024;

  it("puts the verified bytes in place from the spare, an independent file, and keeps nothing else", async () => {
    const { a, b } = pair;
    const content = randomBytes(3 * PART + 123);
    writeFileSync(join(a.dir, "film.mkv"), content);
    const key = await a.annex.add(join(a.dir, "film.mkv"));
    await a.annex.upload([{ key }], { partSize: PART, multipartThreshold: PART });
    await b.sync();

    await b.annex.get([{ key }], { spare: true, partSize: PART, multipartThreshold: PART });
    assert.ok(existsSync(b.annex.local.sparePath(key)), "the download wrote a spare copy");
    const taken = join(b.dir, "placed.mkv");
    writeFileSync(join(b.dir, "existing.mkv"), "a file the person made");
    await assert.rejects(b.annex.local.copyTo(key, join(b.dir, "existing.mkv")), { code: "EEXIST" });
    assert.equal(readFileSync(join(b.dir, "existing.mkv"), "utf8"), "a file the person made", "an existing file is never replaced");
    assert.equal(existsSync(b.annex.local.sparePath(key)), false, "the spare is not kept once used or refused");

    await b.annex.local.remove(key);
    await b.annex.get([{ key }], { spare: true, partSize: PART, multipartThreshold: PART });
    assert.equal(await b.annex.local.copyTo(key, taken, 0o644), true);
    assert.ok(readFileSync(taken).equals(content));
    assert.equal(existsSync(b.annex.local.sparePath(key)), false, "the spare became the file");
    assert.notEqual(statSync(taken).ino, statSync(b.annex.local.objectPath(key)).ino, "the work-tree file is not the store's object");
    assert.equal(statSync(taken).mode & 0o777, 0o644);

    // Without a spare (none asked for), the copy comes from the store.
    await b.annex.local.remove(key);
    await b.annex.get([{ key }], { partSize: PART, multipartThreshold: PART });
    assert.equal(existsSync(b.annex.local.sparePath(key)), false);
    assert.equal(await b.annex.local.copyTo(key, join(b.dir, "copied.mkv")), true);
    assert.ok(readFileSync(join(b.dir, "copied.mkv")).equals(content));
  });

  it("keeps no spare of bytes that do not match their key", async () => {
    const { b, test } = pair;
    const content = randomBytes(3 * PART);
    const key = sha256eKey(createHash("sha256").update(content).digest("hex"), content.length, "bad.bin");
    const tampered = Buffer.from(content);
    tampered[PART + 7] = tampered[PART + 7]! ^ 0xff;
    await test.s3.send(new PutObjectCommand({ Bucket: test.cloud.bucket, Key: `annex/spare/${key}`, Body: tampered }));
    await assert.rejects(b.annex.get([{ key }], { spare: true, partSize: PART, multipartThreshold: PART }), /do not match the key/);
    assert.equal(existsSync(b.annex.local.sparePath(key)), false);
    assert.deepEqual(
      readdirSync(b.annex.local.tmpDir).filter((f) => f.startsWith(key)),
      [],
    );
    assert.equal(await b.annex.local.copyTo(key, join(b.dir, "bad.bin")), false);
  });
});
