import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { formatLocationLog, parseLocationLog, presentUuids } from "../../../../annex/logs/location-log.ts";
import { cloudRemoteConfig, formatRemoteLog, parseRemoteLog } from "../../../../annex/logs/remote-log.ts";
import { formatUuidLog, parseUuidLog } from "../../../../annex/logs/uuid-log.ts";
import { unionMergeLines } from "../../../../annex/logs/union-merge.ts";
import { formatVectorClock, nextVectorClock, parseVectorClock } from "../../../../annex/logs/vector-clock.ts";
import { parseNumCopiesLog } from "../../../../annex/content/numcopies.ts";

const U1 = "35ac97d4-00fc-44d0-ba7e-919d38b63590";
const U2 = "f8a50d94-9eda-4729-9a56-1d30a78567a0";

describe("git-annex branch logs", () => {
  it("reads and writes timestamps exactly as git-annex does", () => {
    const clock = parseVectorClock("1795305907.626400261s")!;
    assert.equal(formatVectorClock(clock), "1795305907.626400261s");
    assert.equal(formatVectorClock(parseVectorClock("1317929189s")!), "1317929189.000000000s");
    assert.equal(parseVectorClock("soon"), undefined);
    assert.ok(nextVectorClock(clock + 10n ** 15n) > clock + 10n ** 15n, "a new entry is later than the one it replaces");
  });

  it("location logs: the newest line per uuid wins, whatever the line order", () => {
    // As written by git-annex 10.20230126 (copy --to cloud), then a later drop in another clone, merged by union.
    const text = "1795305907.796593453s 1 " + U1 + "\n1795305907.668026921s 1 " + U2 + "\n1795305999.000000000s 0 " + U1 + "\n";
    const entries = parseLocationLog(text);
    assert.deepEqual(presentUuids(entries), [U2]);
    const reordered = parseLocationLog(text.split("\n").reverse().join("\n"));
    assert.deepEqual(presentUuids(reordered), [U2]);
    assert.equal(formatLocationLog(entries.values()), "1795305999.000000000s 0 " + U1 + "\n1795305907.668026921s 1 " + U2 + "\n");
    assert.equal(parseLocationLog("garbage\n1 2 3\n").size, 0);
  });

  it("uuid.log keeps descriptions with spaces and the newest entry", () => {
    const text = `${U1} cloud timestamp=1795305907.625885421s\n${U2} my laptop timestamp=1795305887.539647544s\n${U2} old name timestamp=1.0s\n`;
    const entries = parseUuidLog(text);
    assert.equal(entries.get(U2)?.description, "my laptop");
    assert.equal(formatUuidLog([entries.get(U1)!]), `${U1} cloud timestamp=1795305907.625885421s\n`);
  });

  it("remote.log describes the cloud with every field git-annex's initremote type=S3 writes", () => {
    // The line real git-annex wrote for `initremote cloud type=S3 ... datacenter=US` against the local cloud.
    const real =
      `${U1} bucket=cloudbridge datacenter=US encryption=none fileprefix=annex/r1/ host=127.0.0.1 name=cloud port=41231 ` +
      "protocol=http requeststyle=path signature=v4 storageclass=STANDARD type=S3 timestamp=1795305907.626400261s\n";
    const parsed = parseRemoteLog(real).get(U1)!;
    const ours = cloudRemoteConfig({
      bucket: "cloudbridge",
      fileprefix: "annex/r1/",
      endpoint: "http://127.0.0.1:41231",
      region: "us-east-1",
    });
    assert.deepEqual(ours, parsed.config);
    assert.equal(formatRemoteLog([{ uuid: U1, config: ours, clock: parsed.clock }]), real);
    const aws = cloudRemoteConfig({ bucket: "b", fileprefix: "annex/r/", endpoint: undefined, region: "eu-west-1" });
    assert.equal(aws.host, "s3.eu-west-1.amazonaws.com");
    assert.equal(aws.datacenter, "eu-west-1");
    assert.equal(aws.requeststyle, undefined);
    assert.throws(() => formatRemoteLog([{ uuid: U1, config: { name: "has space" }, clock: 1n }]), /no spaces/);
  });

  it("remote.log keeps a field named like an Object property (__proto__, constructor) as a field", () => {
    // Found by the property test: a plain-object assignment dropped `__proto__=` and the rewrite lost it.
    const text = `${U1} __proto__=x constructor=y type=S3 timestamp=1.000000000s\n`;
    const parsed = parseRemoteLog(text).get(U1)!;
    assert.deepEqual(Object.keys(parsed.config).sort(), ["__proto__", "constructor", "type"]);
    assert.equal(parsed.config["__proto__"], "x");
    assert.equal(formatRemoteLog(parseRemoteLog(text).values()), text);
  });

  it("union merge keeps every line of both sides once", () => {
    assert.equal(unionMergeLines("a\nb\n", "b\nc\n"), "a\nb\nc\n");
    assert.equal(unionMergeLines("", ""), "");
  });

  it("numcopies.log: newest wins, default when absent", () => {
    assert.equal(parseNumCopiesLog("1.0s 3\n2.0s 2\n"), 2);
    assert.equal(parseNumCopiesLog(""), undefined);
  });
});

describe("which errors are retried", () => {
  it("network resets and 5xx are; typed outcomes and 4xx are not", async () => {
    const { isTransient } = await import("../../../../annex/transfer/retry.ts");
    assert.equal(isTransient(Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET" })), true);
    assert.equal(isTransient(new Error("socket hang up")), true);
    assert.equal(isTransient({ name: "InternalError", $metadata: { httpStatusCode: 500 } }), true);
    assert.equal(isTransient({ name: "SlowDown", $metadata: { httpStatusCode: 503 } }), true);
    assert.equal(isTransient({ name: "AccessDenied", $metadata: { httpStatusCode: 403 } }), false);
    const gone = Object.assign(new Error("The multipart upload for k no longer exists (aborted, completed or expired)."), {
      name: "NoSuchUpload",
    });
    assert.equal(isTransient(gone), false);
    assert.equal(isTransient(Object.assign(new Error("x"), { name: "PreconditionFailed" })), false);
  });
});
