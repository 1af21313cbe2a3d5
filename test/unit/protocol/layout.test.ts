import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ProtocolError } from "../../../protocol/errors.ts";
import { BucketLayout, parseSyncedRefName, syncedRefName } from "../../../protocol/layout.ts";

const AGENT = "0f8fad5b-d9cb-469f-a165-70867728950e";
const KEY = `SHA256E-s5--${"a".repeat(64)}.txt`;
const PACK = `pack-${"b".repeat(40)}.pack`;

describe("bucket layout: building keys", () => {
  for (const prefix of ["", "team/"]) {
    const layout = new BucketLayout(prefix);
    it(`builds every key of docs/architecture.md's bucket layout under prefix ${JSON.stringify(prefix)}`, () => {
      assert.equal(layout.formatMarker(), `${prefix}cloudbridge.json`);
      assert.equal(layout.readme(), `${prefix}README.txt`);
      assert.equal(layout.head("demo"), `${prefix}repos/demo.git/HEAD`);
      assert.equal(layout.ref("demo", "refs/heads/main"), `${prefix}repos/demo.git/refs/heads/main`);
      assert.equal(layout.ref("demo", "refs/heads/git-annex"), `${prefix}repos/demo.git/refs/heads/git-annex`);
      assert.equal(layout.syncedRef("demo", AGENT, "refs/heads/main"), `${prefix}repos/demo.git/refs/synced/${AGENT}/heads/main`);
      assert.equal(layout.pack("demo", PACK), `${prefix}repos/demo.git/objects/pack/${PACK}`);
      assert.equal(layout.infoPacks("demo"), `${prefix}repos/demo.git/objects/info/packs`);
      assert.equal(layout.infoRefs("demo"), `${prefix}repos/demo.git/info/refs`);
      assert.equal(layout.packedRefs("demo"), `${prefix}repos/demo.git/packed-refs`);
      assert.equal(layout.refsFolder("demo"), `${prefix}repos/demo.git/refs/`);
      assert.equal(layout.annexObject("demo", KEY), `${prefix}annex/demo/${KEY}`);
      assert.equal(layout.annexUuid("demo"), `${prefix}annex/demo/annex-uuid`);
      assert.equal(layout.agent("demo", AGENT), `${prefix}agents/demo/${AGENT}.json`);
    });
  }

  it("lists with a trailing slash so repo a never matches repo ab", () => {
    const layout = new BucketLayout();
    assert.equal(layout.repoRoot("a"), "repos/a.git/");
    assert.ok(!layout.head("ab").startsWith(layout.repoRoot("a")));
    assert.equal(layout.annexRoot("a"), "annex/a/");
    assert.ok(!layout.annexObject("ab", KEY).startsWith(layout.annexRoot("a")));
  });

  it("refuses hostile names before they become keys", () => {
    const layout = new BucketLayout();
    const hostile: [() => unknown, string][] = [
      [() => layout.head(".."), "invalid-repo-name"],
      [() => layout.head(""), "invalid-repo-name"],
      [() => layout.head("a/b"), "invalid-repo-name"],
      [() => layout.ref("demo", "refs/heads/../../x"), "invalid-ref-name"],
      [() => layout.annexObject("demo", "../../etc/passwd"), "invalid-annex-key"],
      [() => layout.pack("demo", "../pack-x.pack"), "invalid-pack-name"],
      [() => layout.agent("demo", "../x"), "invalid-agent-id"],
      [() => new BucketLayout("../up"), "invalid-prefix"],
    ];
    for (const [fn, code] of hostile) assert.throws(fn, (e: unknown) => e instanceof ProtocolError && e.code === code);
  });
});

describe("bucket layout: parsing keys", () => {
  const layout = new BucketLayout("team");
  it("round-trips every kind of key", () => {
    assert.deepEqual(layout.parse(layout.head("demo")), { kind: "head", repo: "demo" });
    assert.deepEqual(layout.parse(layout.ref("demo", "refs/heads/main")), { kind: "ref", repo: "demo", ref: "refs/heads/main" });
    assert.deepEqual(layout.parse(layout.syncedRef("demo", AGENT, "refs/heads/git-annex")), {
      kind: "synced-ref",
      repo: "demo",
      agent: AGENT,
      ref: "refs/heads/git-annex",
    });
    assert.deepEqual(layout.parse(layout.pack("demo", PACK)), { kind: "pack", repo: "demo", file: PACK });
    assert.deepEqual(layout.parse(layout.infoPacks("demo")), { kind: "info-packs", repo: "demo" });
    assert.deepEqual(layout.parse(layout.infoRefs("demo")), { kind: "info-refs", repo: "demo" });
    assert.deepEqual(layout.parse(layout.packedRefs("demo")), { kind: "packed-refs", repo: "demo" });
    assert.deepEqual(layout.parse(layout.refsFolder("demo")), { kind: "refs-folder", repo: "demo" });
    assert.deepEqual(layout.parse(layout.retiredPacks("demo")), { kind: "retired-packs", repo: "demo" });
    assert.deepEqual(layout.parse(layout.annexObject("demo", KEY)), { kind: "annex-object", repo: "demo", key: KEY });
    assert.deepEqual(layout.parse(layout.annexUuid("demo")), { kind: "annex-uuid", repo: "demo" });
    assert.deepEqual(layout.parse(layout.agent("demo", AGENT)), { kind: "agent", repo: "demo", agent: AGENT });
    assert.deepEqual(layout.parse(layout.formatMarker()), { kind: "format-marker" });
    assert.deepEqual(layout.parse(layout.keyring("demo")), { kind: "keyring", repo: "demo" });
    assert.equal(layout.keyring("demo"), "team/keys/demo/keyring.json");
    assert.deepEqual(layout.parse(layout.compactionLease("demo")), { kind: "compaction-lease", repo: "demo" });
    // An encrypted repository's sealed names still parse (the change function reads them without a key).
    assert.equal(layout.parse(`team/annex/demo/CBSIV--${"a".repeat(180)}`).kind, "annex-object");
    assert.equal(layout.parse(`team/repos/demo.git/objects/pack/pack-${"b".repeat(64)}.pack`).kind, "pack");
    assert.deepEqual(layout.parse(`team/repos/demo.git/refs/synced/${AGENT}/heads/${"c".repeat(52)}`), {
      kind: "synced-ref",
      repo: "demo",
      agent: AGENT,
      ref: `refs/heads/${"c".repeat(52)}`,
    });
  });
  it("calls keys outside the prefix or the layout 'other'", () => {
    assert.equal(layout.parse("repos/demo.git/HEAD").kind, "other");
    assert.equal(layout.parse("team/logs/x").kind, "other");
  });
  it("throws a ProtocolError for malformed keys inside the layout", () => {
    for (const key of [
      "team/repos/demo/HEAD",
      "team/repos/../x.git/HEAD",
      "team/keys/demo/other.json",
      "team/repos/demo.git/refs/heads/../x",
      "team/repos/demo.git/objects/pack/evil.sh",
      "team/repos/demo.git/config",
      "team/annex/demo/sub/dir",
      "team/annex/demo/not-a-key",
      "team/agents/demo/x.json",
      "",
    ]) {
      assert.throws(() => layout.parse(key), ProtocolError, key);
    }
  });
});

describe("synced ref names", () => {
  it("maps a ref to the agent's namespace and back", () => {
    const name = syncedRefName(AGENT, "refs/heads/main");
    assert.equal(name, `refs/synced/${AGENT}/heads/main`);
    assert.deepEqual(parseSyncedRefName(name), { agent: AGENT, ref: "refs/heads/main" });
    assert.equal(parseSyncedRefName("refs/heads/main"), undefined);
  });
  it("rejects a synced ref with a bad agent id or no ref", () => {
    assert.throws(() => parseSyncedRefName("refs/synced/nobody/heads/main"), ProtocolError);
    assert.throws(() => parseSyncedRefName(`refs/synced/${AGENT}`), ProtocolError);
  });
});
