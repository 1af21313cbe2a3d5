import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { formatAnnexKey, parseAnnexKey } from "../../../protocol/annex-key.ts";
import { ProtocolError } from "../../../protocol/errors.ts";

const HASH = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

describe("git-annex keys", () => {
  it("parses and formats SHA256E keys", () => {
    const text = `SHA256E-s1048576--${HASH}.tar.gz`;
    const key = parseAnnexKey(text);
    assert.equal(key.backend, "SHA256E");
    assert.equal(key.size, 1048576);
    assert.equal(key.name, `${HASH}.tar.gz`);
    assert.equal(formatAnnexKey(key), text);
  });
  it("parses other backends' keys, including names with spaces and +", () => {
    const key = parseAnnexKey("WORM-s5-m1700000000--my file+v2.txt");
    assert.equal(key.backend, "WORM");
    assert.equal(key.mtime, 1700000000);
    assert.equal(key.name, "my file+v2.txt");
    assert.equal(formatAnnexKey(key), "WORM-s5-m1700000000--my file+v2.txt");
  });
  it("rejects malformed keys with a reason", () => {
    const bad = [
      "",
      "SHA256E",
      "sha256e-s1--abc",
      `SHA256E-s1--${HASH.slice(1)}`,
      `SHA256E-sx--${HASH}`,
      "WORM--a/b",
      "WORM--..",
      `SHA256-s1--${HASH}.txt`,
      "WORM--a\nb",
    ];
    for (const text of bad) {
      assert.throws(
        () => parseAnnexKey(text),
        (e: unknown) => e instanceof ProtocolError && e.code === "invalid-annex-key" && e.message.includes("not a git-annex key"),
        JSON.stringify(text),
      );
    }
  });
});
