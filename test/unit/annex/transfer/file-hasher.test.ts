import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { open } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { FileHasher } from "../../../../annex/transfer/file-hasher.ts";

describe("FileHasher: a file hashed on a worker as its bytes are written", () => {
  const root = mkdtempSync(join(tmpdir(), "file-hasher-"));
  after(() => rmSync(root, { recursive: true, force: true }));

  it("hashes ranges written out of order once those before them are there, as one pass over the file", async () => {
    const content = randomBytes(3 * 1024 * 1024 + 12345);
    const path = join(root, "out-of-order");
    const file = await open(path, "w");
    await file.truncate(content.length);
    const hashers = [new FileHasher(path, "sha256"), new FileHasher(path, "md5")];
    const rangeSize = 1024 * 1024;
    const order = [2, 0, 3, 1];
    const written = new Set<number>();
    let prefix = 0;
    for (const i of order) {
      await file.write(content, i * rangeSize, Math.min(rangeSize, content.length - i * rangeSize), i * rangeSize);
      written.add(i);
      while (written.has(prefix)) prefix++;
      for (const hasher of hashers) hasher.advance(Math.min(content.length, prefix * rangeSize));
    }
    await file.close();
    const [sha256, md5] = await Promise.all(hashers.map((h) => h.digest()));
    assert.deepEqual(sha256, { hex: createHash("sha256").update(content).digest("hex"), size: content.length });
    assert.deepEqual(md5, { hex: createHash("md5").update(content).digest("hex"), size: content.length });
  });

  it("fails when the file is shorter than it was told, and an abandoned file leaves nothing waiting", async () => {
    const path = join(root, "short");
    const file = await open(path, "w");
    await file.write(Buffer.alloc(1000));
    await file.close();
    const short = new FileHasher(path, "sha256");
    short.advance(2000);
    await assert.rejects(short.digest(), /shorter than the 2000 bytes/);
    const missing = new FileHasher(join(root, "absent"), "sha256");
    await assert.rejects(missing.digest(), /ENOENT/);
    const abandoned = new FileHasher(path, "sha256");
    abandoned.advance(500);
    abandoned.abandon();
    // The test process ends by itself: no file left being hashed keeps the worker (and so the process) alive.
  });
});
