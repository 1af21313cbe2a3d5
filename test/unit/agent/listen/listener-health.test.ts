import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ListenerHealth, type ListenerState } from "../../../../agent/listen/listener-health.ts";
import { transferRate } from "../../../../agent/cli/transfer-progress.ts";

describe("listener health", () => {
  it("reports changes of state only: a server that keeps failing is one change, its return another", () => {
    const changes: ListenerState[] = [];
    const health = new ListenerHealth("xmpp", (state) => changes.push(state));
    health.set("listening");
    for (let i = 0; i < 30; i++) health.set("down", { error: `connect ECONNREFUSED 127.0.0.1:5222 (attempt ${i})` });
    health.set("listening");
    assert.deepEqual(
      changes.map((c) => [c.state, c.error]),
      [
        ["listening", undefined],
        ["down", "connect ECONNREFUSED 127.0.0.1:5222 (attempt 0)"],
        ["listening", undefined],
      ],
    );
  });

  it("a listener that failed to start shows what replaced it, never as listening", () => {
    const health = new ListenerHealth("sqs", () => undefined);
    assert.equal(health.state.state, "connecting");
    health.set("failed", { error: "no such topic", active: "poll" });
    assert.deepEqual(
      { ...health.state, since: "" },
      { configured: "sqs", active: "poll", state: "failed", error: "no such topic", since: "" },
    );
  });
});

describe("transfer rate shown to a person", () => {
  it("says nothing in the first second, then bytes over the time taken", () => {
    assert.equal(transferRate(8 * 1024 ** 2, 1), "…/s"); // the first sample: 8 MiB in a millisecond is not a rate
    assert.equal(transferRate(8 * 1024 ** 2, 2000), "4.0 MiB/s");
  });
});
