import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { TransferQueue } from "../../../../agent/sync/transfer-queue.ts";

const KEY = `SHA256E-s4096--${"a".repeat(64)}.bin`;

describe("the transfer queue", () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "cloudbridge-transfer-queue-"));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it("keeps why a job's last attempt failed when the job is asked for again; only an attempt's outcome replaces it", async () => {
    const queue = new TransferQueue(join(dir, "kept"));
    await queue.add([{ direction: "up", key: KEY, path: "big.bin" }]);
    await queue.fail({ direction: "up", key: KEY, path: "big.bin" }, "the bucket answered 500");
    // The same content looked at again (a scan re-reading a file written just before it): queued again.
    await queue.add([{ direction: "up", key: KEY, path: "big.bin" }]);
    assert.deepEqual(await queue.list("up"), [{ direction: "up", key: KEY, path: "big.bin", failed: "the bucket answered 500" }]);
    // Asked for under another path (the file renamed): the path changes, the reason stays.
    await queue.add([{ direction: "up", key: KEY, path: "renamed.bin" }]);
    assert.deepEqual(await queue.list("up"), [{ direction: "up", key: KEY, path: "renamed.bin", failed: "the bucket answered 500" }]);
    await queue.fail({ direction: "up", key: KEY, path: "renamed.bin" }, "the network was cut");
    assert.equal((await queue.list("up"))[0]?.failed, "the network was cut");
    await queue.done({ direction: "up", key: KEY });
    assert.deepEqual(await queue.list(), []);
    await queue.add([{ direction: "up", key: KEY, path: "renamed.bin" }]);
    assert.deepEqual(await queue.list("up"), [{ direction: "up", key: KEY, path: "renamed.bin" }], "a job queued anew has no failure");
  });
});
