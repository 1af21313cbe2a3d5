import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { describe, it } from "node:test";
import { HINT_SPREAD_MS, spreadHints } from "../../../../agent/listen/hint-spread.ts";
import type { ChangeMessage } from "../../../../protocol/index.ts";

const message = (n: number) => ({ repo: "notes", by: `agent-${n}` }) as unknown as ChangeMessage;

describe("notification hints are spread", () => {
  it("answers a hint after a random wait within the bound, once for every hint heard meanwhile", async () => {
    const calls: { at: number; message: ChangeMessage | undefined }[] = [];
    const started = performance.now();
    const hint = spreadHints((heard) => calls.push({ at: performance.now() - started, message: heard }), { maxMs: 60, random: () => 0.5 });
    hint(message(1));
    hint(message(2));
    hint(undefined);
    assert.equal(calls.length, 0, "not answered at once");
    await sleep(100);
    assert.equal(calls.length, 1, "three hints in the wait are one fetch");
    assert.ok(calls[0]!.at >= 29, `waited ${calls[0]!.at} ms, not half of 60`);
    assert.deepEqual(calls[0]!.message, message(2), "the latest change is passed on");
    hint(message(3));
    await sleep(100);
    assert.equal(calls.length, 2, "a hint after the fetch ran is answered again");
    hint(message(4));
    hint.cancel();
    await sleep(100);
    assert.equal(calls.length, 2, "a cancelled hint is not answered");
  });

  it("spreads the machines that heard one change over the default bound instead of one millisecond", (t) => {
    t.mock.timers.enable({ apis: ["setTimeout"] });
    let fetched = 0;
    const machines = Array.from({ length: 200 }, () => spreadHints(() => fetched++));
    for (const hint of machines) hint(message(0));
    const perMs: number[] = [];
    for (let ms = 0; ms <= HINT_SPREAD_MS; ms++) {
      const before = fetched;
      t.mock.timers.tick(1);
      perMs.push(fetched - before);
    }
    assert.equal(fetched, 200, "every machine fetched within the bound");
    assert.ok(Math.max(...perMs) <= 20, `${Math.max(...perMs)} of 200 machines fetched in the same millisecond`);
    assert.ok(perMs.filter((n) => n > 0).length >= HINT_SPREAD_MS / 2, "spread over the bound");
  });
});
