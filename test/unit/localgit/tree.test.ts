import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { decodePath, displayPath, encodePath, parseDiffTree, parseLsTree, unrepresentableNameReason } from "../../../localgit/index.ts";

const OID = "a".repeat(40);
const bytes = (...parts: Array<string | number[]>) =>
  Buffer.concat(parts.map((p) => (typeof p === "string" ? Buffer.from(p) : Buffer.from(p))));

describe("localgit: tree listings and names that are not UTF-8", () => {
  it("keeps a name that is not UTF-8 exactly, as a string no real name can equal, and refuses it", () => {
    const raw = bytes("caf", [0xe9], ".txt"); // Latin-1 "café.txt"
    const path = decodePath(raw);
    assert.notEqual(path, "caf\uFFFD.txt", "never the lossy spelling, which names another file");
    assert.deepEqual(encodePath(path), raw, "the exact bytes come back");
    assert.match(unrepresentableNameReason(path)!, /the name "caf\\xe9\.txt" is not valid UTF-8/);
    assert.equal(displayPath(path), '"caf\\xe9.txt"');
    // Two names that differ only in an invalid byte stay two names.
    assert.notEqual(decodePath(bytes("x", [0xff])), decodePath(bytes("x", [0xfe])));
  });

  it("leaves valid UTF-8 (including a real U+FFFD) alone", () => {
    for (const name of ["ünïcode/ファイル.txt", "a\uFFFDb", "plain"]) {
      assert.equal(decodePath(Buffer.from(name)), name);
      assert.deepEqual(encodePath(name), Buffer.from(name));
      assert.equal(unrepresentableNameReason(name), undefined);
    }
    // A valid sequence next to an invalid byte keeps its character.
    assert.deepEqual(encodePath(decodePath(bytes("é", [0xc3], "x"))), bytes("é", [0xc3], "x"));
  });

  it("parses ls-tree -z (with and without sizes) and diff-tree -z, names as bytes", () => {
    const lsTree = bytes(
      `100644 blob ${OID}\tok.txt\0`,
      `100755 blob ${OID}     12\tbin/run\0`,
      `160000 commit ${OID}       -\tsub\0`,
      `100644 blob ${OID}\tbad`,
      [0xff],
      "\0",
    );
    const entries = parseLsTree(lsTree);
    assert.deepEqual([...entries.keys()], ["ok.txt", "bin/run", "sub", decodePath(bytes("bad", [0xff]))]);
    assert.deepEqual(entries.get("bin/run"), { mode: "100755", oid: OID, size: 12 });
    assert.deepEqual(entries.get("sub"), { mode: "160000", oid: OID });
    const zero = "0".repeat(40);
    const diff = bytes(`:000000 100644 ${zero} ${OID} A\0new\nline\0`, `:100644 000000 ${OID} ${zero} D\0gone.txt\0`);
    assert.deepEqual(parseDiffTree(diff), [
      { path: "new\nline", mode: "100644", oid: OID, deleted: false },
      { path: "gone.txt", mode: "100644", oid: OID, deleted: true },
    ]);
  });
});
