import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { describe, it } from "node:test";
import { formatLocationLog, parseLocationLog } from "../../../annex/logs/location-log.ts";
import { parseNumCopiesLog } from "../../../annex/content/numcopies.ts";
import { formatPointer, MAX_POINTER_SIZE, parsePointer, parseSymlinkTarget } from "../../../annex/content/pointer.ts";
import { formatRemoteLog, parseRemoteLog, type RemoteConfig } from "../../../annex/logs/remote-log.ts";
import { unionMergeLines } from "../../../annex/logs/union-merge.ts";
import { formatUuidLog, parseUuidLog, type UuidEntry } from "../../../annex/logs/uuid-log.ts";
import { formatVectorClock, parseVectorClock } from "../../../annex/logs/vector-clock.ts";
import { formatAnnexKey, hashDirMixed, type AnnexKey } from "../../../protocol/annex-key.ts";
import { assertAgentId } from "../../../protocol/names.ts";
import { agentId, annexKeyFields, fc, hostile, hostileBytes, otherKeyFields, runs } from "../../helpers/arbitraries.ts";

const md5 = (text: string) => createHash("md5").update(text).digest();
const annexKey = fc.oneof(annexKeyFields, otherKeyFields).map((fields) => formatAnnexKey(fields as AnnexKey));
const clock = fc.bigInt({ min: 0n, max: 10n ** 19n * 1_000_000_000n });
const byUuid = <T extends { uuid: string }>(entries: T[]) => new Map(entries.map((e) => [e.uuid, e]));
const lines = (text: string) => text.split("\n").filter((l) => l !== "");

/** Any text a log file in the git-annex branch could hold: valid lines, hostile edits of them, garbage. */
const logText = (valid: fc.Arbitrary<string>) =>
  fc
    .array(fc.oneof(valid, hostile(valid), oddUuids(valid), fc.string({ unit: "binary", maxLength: 60 })), { maxLength: 8 })
    .map((parts) => parts.join("\n"));

/** Valid lines whose uuids are replaced by things shaped almost like one: upper case, dashes only, no dashes. */
function oddUuids(valid: fc.Arbitrary<string>): fc.Arbitrary<string> {
  const odd = fc.oneof(
    agentId.map((u) => u.toUpperCase()),
    fc.stringMatching(/^[0-9a-fA-F-]{36}$/),
    fc.constant("-".repeat(36)),
  );
  return fc.tuple(valid, odd).map(([text, uuid]) => text.replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, uuid));
}

describe("property: git-annex log timestamps", () => {
  it("parse(format(c)) = c; any other text is undefined or a clock that formats back to a readable one", () => {
    fc.assert(
      fc.property(clock, (c) => assert.equal(parseVectorClock(formatVectorClock(c)), c)),
      runs,
    );
    fc.assert(
      fc.property(hostile(clock.map(formatVectorClock)), (text) => {
        const c = parseVectorClock(text);
        if (c !== undefined) assert.equal(parseVectorClock(formatVectorClock(c)), c);
      }),
      runs,
    );
  });
});

describe("property: location logs", () => {
  const entry = fc.record({ clock, status: fc.constantFrom("1" as const, "0" as const, "X" as const), uuid: agentId });
  const entries = fc.uniqueArray(entry, { selector: (e) => e.uuid, maxLength: 6 });

  it("parse(format(entries)) = entries", () => {
    fc.assert(
      fc.property(entries, (list) => assert.deepEqual(parseLocationLog(formatLocationLog(list)), byUuid(list.map((e) => ({ ...e }))))),
      runs,
    );
  });

  it("any text: the entries read are well formed, and writing them back reads the same (a rewrite never crashes)", () => {
    fc.assert(
      fc.property(logText(entries.map(formatLocationLog)), (text) => {
        const read = parseLocationLog(text);
        for (const e of read.values()) {
          assert.equal(assertAgentId(e.uuid), e.uuid);
          assert.ok(["1", "0", "X"].includes(e.status) && e.clock >= 0n);
        }
        assert.deepEqual(parseLocationLog(formatLocationLog(read.values())), read);
      }),
      runs,
    );
  });
});

describe("property: uuid.log and remote.log", () => {
  const description = fc.string({ unit: "grapheme", maxLength: 30 });
  const uuidEntries = fc.uniqueArray(fc.record({ uuid: agentId, description, clock }), { selector: (e) => e.uuid, maxLength: 5 });

  it("uuid.log: parse(format(entries)) = entries, line breaks in a description becoming spaces", () => {
    fc.assert(
      fc.property(uuidEntries, (list) => {
        const expected = list.map((e): UuidEntry => ({ ...e, description: e.description.replace(/[\r\n]+/g, " ") }));
        assert.deepEqual(parseUuidLog(formatUuidLog(list)), byUuid(expected));
      }),
      runs,
    );
  });

  it("uuid.log: any text reads as entries that write back and read the same (a rewrite never crashes)", () => {
    fc.assert(
      fc.property(logText(uuidEntries.map(formatUuidLog)), (text) => {
        const read = parseUuidLog(text);
        const again = parseUuidLog(formatUuidLog(read.values()));
        assert.deepEqual([...again.keys()], [...read.keys()]);
        for (const [uuid, e] of read) assert.equal(again.get(uuid)!.description, e.description.replace(/[\r\n]+/g, " "));
      }),
      runs,
    );
  });

  const configName = fc.stringMatching(/^[A-Za-z0-9_.-]{1,12}$/).filter((n) => n !== "timestamp");
  const configValue = fc.string({ unit: "grapheme", maxLength: 20 }).filter((v) => !/\s/.test(v));
  const remotes = fc.uniqueArray(fc.record({ uuid: agentId, config: fc.dictionary(configName, configValue, { maxKeys: 6 }), clock }), {
    selector: (e) => e.uuid,
    maxLength: 4,
  });

  it("remote.log: parse(format(remotes)) = remotes", () => {
    fc.assert(
      fc.property(remotes, (list) => {
        const expected = list.map((r): RemoteConfig => ({ ...r, config: { ...r.config } }));
        assert.deepEqual(parseRemoteLog(formatRemoteLog(list)), byUuid(expected));
      }),
      runs,
    );
  });

  it("remote.log: any text reads as remotes that write back and read the same (a rewrite never crashes)", () => {
    fc.assert(
      fc.property(logText(remotes.map(formatRemoteLog)), (text) => {
        const read = parseRemoteLog(text);
        assert.deepEqual(parseRemoteLog(formatRemoteLog(read.values())), read);
      }),
      runs,
    );
  });

  it("numcopies.log: the newest readable line wins; anything else is no setting", () => {
    const line = fc.tuple(clock, fc.integer({ min: 1, max: 20 }));
    fc.assert(
      fc.property(fc.array(line, { minLength: 1, maxLength: 5 }), (list) => {
        const text = list.map(([c, n]) => `${formatVectorClock(c)} ${n}\n`).join("");
        const newest = Math.max(...list.map(([c]) => Number(c)));
        const candidates = list.filter(([c]) => Number(c) === newest).map(([, n]) => n);
        assert.ok(candidates.includes(parseNumCopiesLog(text)!));
      }),
      runs,
    );
    fc.assert(
      fc.property(logText(line.map(([c, n]) => `${formatVectorClock(c)} ${n}`)), (text) => {
        const n = parseNumCopiesLog(text);
        assert.ok(n === undefined || (Number.isSafeInteger(n) && n >= 1));
      }),
      runs,
    );
  });

  it("union merge: every line of both sides once, ours first; merging again changes nothing", () => {
    const text = fc.array(fc.string({ unit: "grapheme", maxLength: 10 }), { maxLength: 8 }).map((l) => l.join("\n"));
    fc.assert(
      fc.property(text, text, (ours, theirs) => {
        const merged = unionMergeLines(ours, theirs);
        assert.deepEqual(lines(merged), [...new Set([...lines(ours), ...lines(theirs)])]);
        assert.equal(unionMergeLines(merged, theirs), merged);
        assert.equal(unionMergeLines(merged, ours), merged);
        assert.deepEqual(new Set(lines(unionMergeLines(theirs, ours))), new Set(lines(merged)));
      }),
      runs,
    );
  });
});

describe("property: annexed-file pointers", () => {
  it("parse(format(key)) = key, for unlocked pointers and for locked files' symlink targets", () => {
    fc.assert(
      fc.property(annexKey, fc.nat({ max: 4 }), (key, depth) => {
        assert.equal(parsePointer(formatPointer(key)), key);
        assert.equal(parsePointer(Buffer.from(formatPointer(key))), key);
        const target = `${"../".repeat(depth)}.git/annex/objects/${hashDirMixed(key, md5)}${key}/${key}`;
        assert.equal(parseSymlinkTarget(target), key);
      }),
      runs,
    );
  });

  it("anything else is not a pointer (undefined), never a crash, and never a different key", () => {
    const pointer = annexKey.map(formatPointer);
    fc.assert(
      fc.property(fc.oneof(hostile(pointer), hostileBytes(pointer.map((p) => Buffer.from(p)))), (content) => {
        const key = parsePointer(content);
        if (key === undefined) return;
        // git-annex reads a pointer as its one line, optionally ending in "\r\n" or "\n", nothing after it.
        const bytes = Buffer.from(content);
        const exact = ["", "\n", "\r\n"].some((end) => bytes.equals(Buffer.from(`/annex/objects/${key}${end}`)));
        assert.ok(exact, `${JSON.stringify(bytes.toString("latin1"))} is read as the pointer to ${key}`);
      }),
      runs,
    );
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 100 }), (target) => {
        const key = parseSymlinkTarget(target);
        if (key !== undefined) assert.ok(target.endsWith(`/${key}/${key}`) && target.includes("annex/objects/"));
      }),
      runs,
    );
    assert.equal(parsePointer(Buffer.alloc(MAX_POINTER_SIZE + 1, 0x2f)), undefined);
  });
});

describe("counterexamples the properties found (each broke before its fix)", () => {
  const U = "00000000-0000-4000-8000-000000000000";

  it("a log line whose uuid is not a lowercase UUID no longer makes rewriting the log throw", () => {
    const dashes = "-".repeat(36);
    assert.doesNotThrow(() => formatLocationLog(parseLocationLog(`0.000000000s 1 ${dashes}\n`).values()));
    assert.doesNotThrow(() => formatUuidLog(parseUuidLog(`${dashes}  timestamp=0.000000000s\n`).values()));
    assert.doesNotThrow(() => formatRemoteLog(parseRemoteLog(`${dashes} type=S3 timestamp=0.000000000s\n`).values()));
    assert.deepEqual([...parseUuidLog(`${U.toUpperCase()} laptop timestamp=1.000000000s\n`).keys()], [U]);
  });

  it("remote.log: an empty value (git-annex writes `name=`) and a tab inside a line are written back, not refused", () => {
    const read = parseRemoteLog(`${U} A= b=x\ty timestamp=1.000000000s\n`);
    assert.deepEqual(read.get(U)?.config, { A: "", b: "x" });
    assert.deepEqual(parseRemoteLog(formatRemoteLog(read.values())), read);
    assert.throws(() => formatRemoteLog([{ uuid: U, config: { timestamp: "1" }, clock: 1n }]), /timestamp/);
  });

  it("pointers as git-annex 10.20230126 reads them: nothing after the line, CRLF allowed, UTF-8 keys only", () => {
    const key = `SHA256E-s6--${"5".repeat(64)}`;
    // git-annex: "looks like git-annex pointer file that has had other content appended to it" -> content.
    assert.equal(parsePointer(`/annex/objects/${key}\nextra line\n`), undefined);
    assert.equal(parsePointer(`/annex/objects/${key}\r\n`), key);
    assert.equal(parsePointer(Buffer.concat([Buffer.from(`/annex/objects/${key}.`), Buffer.from([0xff]), Buffer.from("\n")])), undefined);
  });
});
