import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Backoff, RETRY_BASE_MS, RETRY_CAP_MS } from "../../../agent/backoff.ts";

describe("Backoff", () => {
  it("doubles from the base, never waits more than the cap, and each wait is between half and all of its step", () => {
    for (let run = 0; run < 200; run++) {
      const backoff = new Backoff();
      for (let failure = 1; failure <= 40; failure++) {
        const step = Math.min(RETRY_CAP_MS, RETRY_BASE_MS * 2 ** (failure - 1));
        const wait = backoff.next();
        assert.ok(wait >= step / 2 && wait <= step, `failure ${failure}: ${wait} ms outside [${step / 2}, ${step}]`);
      }
    }
  });

  it("starts again from the base after a success", () => {
    const backoff = new Backoff(100, 1000);
    for (let i = 0; i < 10; i++) backoff.next();
    assert.ok(backoff.next() >= 500);
    backoff.reset();
    assert.ok(backoff.next() <= 100);
  });

  it("is jittered: machines that failed together do not retry together", () => {
    const waits = new Set(Array.from({ length: 20 }, () => new Backoff().next()));
    assert.ok(waits.size > 10, `${waits.size} distinct waits out of 20`);
  });
});
