import assert from "node:assert/strict";
import { describe, it, type TestContext } from "node:test";
import { RateLimiter } from "../../../annex/index.ts";

/**
 * The limiter's clock (performance.now) and its timers, both under the test's control: what is asserted is
 * how long a taker waits, to the millisecond, whatever else the machine is doing.
 */
function fakeClock(t: TestContext) {
  let now = 0;
  t.mock.method(performance, "now", () => now);
  t.mock.timers.enable({ apis: ["setTimeout"] });
  return {
    advance(ms: number) {
      now += ms;
      t.mock.timers.tick(ms);
    },
  };
}

/** Whether `promise` has settled once pending callbacks have run (without moving the fake clock). */
async function settled(promise: Promise<unknown>): Promise<boolean> {
  let done = false;
  promise.then(
    () => (done = true),
    () => (done = true),
  );
  await new Promise((resolve) => setImmediate(resolve));
  return done;
}

describe("RateLimiter", () => {
  it("without a rate, never waits", async (t) => {
    fakeClock(t);
    const limiter = new RateLimiter();
    assert.equal(await settled(Promise.all(Array.from({ length: 1000 }, () => limiter.take(1_000_000_000)))), true);
  });

  it("a request larger than a tenth of a second's worth goes at once from a full bucket, the next one waits for it", async (t) => {
    const clock = fakeClock(t);
    const limiter = new RateLimiter(1_000_000);
    assert.equal(await settled(limiter.take(500_000)), true, "the bucket starts full");
    const next = limiter.take(250_000);
    clock.advance(249);
    assert.equal(await settled(next), false, "250 kB at 1 MB/s take 250 ms");
    clock.advance(1);
    assert.equal(await settled(next), true);
  });

  it("takers in parallel share one rate (not one each)", async (t) => {
    const clock = fakeClock(t);
    const limiter = new RateLimiter(1_000_000); // 1 MB/s, a burst of 100 kB
    const all = Promise.all([0, 1, 2, 3].map(() => limiter.take(100_000)));
    // 400 kB, of which the 100 kB burst goes at once: 300 ms.
    clock.advance(299);
    assert.equal(await settled(all), false);
    clock.advance(1);
    assert.equal(await settled(all), true);
  });

  it("a new rate applies from the next take; 0 lifts the limit", async (t) => {
    const clock = fakeClock(t);
    const limiter = new RateLimiter(100_000);
    await limiter.take(100_000); // empties the bucket
    limiter.setRate(10_000_000);
    const faster = limiter.take(1_000_000);
    clock.advance(99);
    assert.equal(await settled(faster), false);
    clock.advance(1);
    assert.equal(await settled(faster), true, "the faster rate applies (10 s at the old one)");
    limiter.setRate(0);
    assert.equal(await settled(limiter.take(1_000_000_000)), true);
  });

  it("an aborted taker stops waiting", async (t) => {
    fakeClock(t);
    const limiter = new RateLimiter(1000);
    await limiter.take(1000); // the full bucket's worth goes at once
    const controller = new AbortController();
    const taking = limiter.take(1_000_000, controller.signal);
    controller.abort(new Error("stopped"));
    await assert.rejects(taking, /stopped/);
  });
});
