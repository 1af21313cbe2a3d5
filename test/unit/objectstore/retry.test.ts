import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { backoffDelay, retry } from "../../../objectstore/index.ts";

describe("the one retry loop and backoff policy", () => {
  it("waits a random time up to base·2^(attempt-1), never more than the cap", () => {
    for (let attempt = 1; attempt <= 40; attempt++) {
      const delay = backoffDelay(attempt, { baseMs: 10, capMs: 300 });
      assert.ok(delay >= 0 && delay <= Math.min(300, 10 * 2 ** (attempt - 1)), `attempt ${attempt}: ${delay}`);
    }
  });

  it("retries what is retryable until it succeeds, and stops at once on anything else", async () => {
    let calls = 0;
    const value = await retry(
      async () => {
        calls += 1;
        if (calls < 3) throw new Error("blip");
        return "done";
      },
      (error) => (error as Error).message === "blip",
      { baseDelayMs: 1 },
    );
    assert.equal(value, "done");
    assert.equal(calls, 3);
    calls = 0;
    await assert.rejects(
      retry(
        async () => {
          calls += 1;
          throw new Error("final");
        },
        (error) => (error as Error).message === "blip",
        { baseDelayMs: 1 },
      ),
      /final/,
    );
    assert.equal(calls, 1);
  });

  it("throws what giveUp names once the attempts are spent", async () => {
    let calls = 0;
    await assert.rejects(
      retry(
        async () => {
          calls += 1;
          throw new Error("blip");
        },
        () => true,
        { attempts: 4, baseDelayMs: 1, giveUp: (error, attempts) => new Error(`gave up after ${attempts}: ${(error as Error).message}`) },
      ),
      /gave up after 4: blip/,
    );
    assert.equal(calls, 4);
  });
});
