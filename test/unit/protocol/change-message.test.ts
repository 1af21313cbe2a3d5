import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { decodeChangeMessage, encodeChangeMessage, validateChangeMessage, type ChangeMessage } from "../../../protocol/change-message.ts";
import { ProtocolError } from "../../../protocol/errors.ts";

const refs: ChangeMessage = {
  v: 1,
  bucket: "cloudbridge",
  repo: "demo",
  kind: "refs",
  ref: "refs/heads/main",
  etag: "abc",
  at: "2026-11-21T12:00:00.000Z",
};

describe("change message v1", () => {
  it("round-trips through JSON", () => {
    assert.deepEqual(decodeChangeMessage(encodeChangeMessage(refs)), refs);
    const content: ChangeMessage = {
      v: 1,
      bucket: "cloudbridge",
      repo: "demo",
      kind: "content",
      key: `SHA256E-s1--${"0".repeat(64)}`,
      size: 1,
      at: refs.at,
    };
    assert.deepEqual(decodeChangeMessage(encodeChangeMessage(content)), content);
  });
  it("names the field that is wrong", () => {
    const cases: [unknown, RegExp][] = [
      [{ ...refs, repo: "../x" }, /repo/],
      [{ ...refs, ref: "refs/heads/a b" }, /ref/],
      [{ ...refs, kind: "packs" }, /kind/],
      [{ ...refs, at: "yesterday" }, /at/],
      [{ ...refs, by: "someone" }, /by/],
      [{ ...refs, extra: 1 }, /extra|unrecognized/i],
      [{ ...refs, kind: "content" }, /key/],
    ];
    for (const [value, pattern] of cases) {
      assert.throws(
        () => validateChangeMessage(value),
        (e: unknown) => e instanceof ProtocolError && e.code === "invalid-message" && pattern.test(e.message),
        JSON.stringify(value),
      );
    }
  });
  it("tells the user to upgrade on a newer version, and rejects non-JSON", () => {
    assert.throws(() => decodeChangeMessage(JSON.stringify({ ...refs, v: 2 })), /upgrade/);
    assert.throws(() => decodeChangeMessage("{not json"), /not JSON/);
  });
});
