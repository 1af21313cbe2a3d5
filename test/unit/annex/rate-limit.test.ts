import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { RateLimiter } from "../../../annex/index.ts";

describe("RateLimiter", () => {
  it("without a rate, never waits", async () => {
    const limiter = new RateLimiter();
    const started = performance.now();
    for (let i = 0; i < 1000; i++) await limiter.take(1_000_000_000);
    assert.ok(performance.now() - started < 200);
  });

  it("a request larger than a tenth of a second's worth goes at once from a full bucket, the next one waits for it", async () => {
    const limiter = new RateLimiter(1_000_000);
    let started = performance.now();
    await limiter.take(500_000);
    assert.ok(performance.now() - started < 50, "the bucket starts full");
    started = performance.now();
    await limiter.take(250_000);
    const ms = performance.now() - started;
    assert.ok(ms >= 230 && ms < 400, `the next request waited ${ms.toFixed(0)} ms for its bytes`);
  });

  it("takers in parallel share one rate (not one each)", async () => {
    const limiter = new RateLimiter(1_000_000); // 1 MB/s, a burst of 100 kB
    const started = performance.now();
    await Promise.all([0, 1, 2, 3].map(() => limiter.take(100_000)));
    const ms = performance.now() - started;
    // 400 kB, of which the 100 kB burst goes at once: 300 ms.
    assert.ok(ms >= 280 && ms < 450, `took ${ms.toFixed(0)} ms`);
  });

  it("a new rate applies from the next take; 0 lifts the limit", async () => {
    const limiter = new RateLimiter(100_000);
    await limiter.take(100_000); // empties the bucket
    limiter.setRate(10_000_000);
    let started = performance.now();
    await limiter.take(1_000_000);
    assert.ok(performance.now() - started < 500, "the faster rate applies (10 s at the old one)");
    limiter.setRate(0);
    started = performance.now();
    await limiter.take(1_000_000_000);
    assert.ok(performance.now() - started < 50);
  });

  it("an aborted taker stops waiting", async () => {
    const limiter = new RateLimiter(1000);
    await limiter.take(1000); // the full bucket's worth goes at once
    const controller = new AbortController();
    const taking = limiter.take(1_000_000, controller.signal);
    controller.abort(new Error("stopped"));
    await assert.rejects(taking, /stopped/);
  });
});
