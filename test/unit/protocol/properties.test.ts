import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { describe, it } from "node:test";
import {
  formatAnnexKey,
  hashDirLower,
  hashDirMixed,
  keyDigest,
  keyExtension,
  parseAnnexKey,
  sha256eKey,
  type AnnexKey,
} from "../../../protocol/annex-key.ts";
import { changeMessageFromS3 } from "../../../protocol/change-from-event.ts";
import {
  changeFanoutEnvironment,
  compactionEnvironment,
  parseChangeFanoutEnvironment,
  parseCompactionEnvironment,
  parseXmppFanoutEnvironment,
  xmppFanoutEnvironment,
} from "../../../protocol/deployment.ts";
import { decodeChangeMessage, encodeChangeMessage, type ChangeMessage } from "../../../protocol/change-message.ts";
import { ProtocolError } from "../../../protocol/errors.ts";
import { assertJid, splitJid } from "../../../protocol/jid.ts";
import { BucketLayout, parseSyncedRefName, syncedRefName, type ParsedKey } from "../../../protocol/layout.ts";
import { assertAgentId, assertRefName, assertRepoName, normalizePrefix } from "../../../protocol/names.ts";
import { formatRemoteUrl, parseRemoteUrl } from "../../../protocol/remote-url.ts";
import { decodeEventKey, encodeEventKey, parseS3Event } from "../../../protocol/s3-event.ts";
import { parseSnsEvent, snsEventFromEnvelope } from "../../../protocol/sns-event.ts";
import { agentOutputKeys, readStackOutputs, STACK_OUTPUT } from "../../../protocol/stack-outputs.ts";
import { changeFromXmppAttributes, changeToXmppAttributes } from "../../../protocol/xmpp-change.ts";
import {
  agentId,
  annexKeyFields,
  fc,
  hostile,
  NASTY,
  otherKeyFields,
  packBaseName,
  prefix,
  refName,
  repoName,
  returnsOrThrowsTyped,
  runs,
} from "../../helpers/arbitraries.ts";
import { s3Record } from "../../helpers/s3-records.ts";

const md5 = (text: string) => createHash("md5").update(text).digest();
// eslint-disable-next-line no-control-regex -- what must never come back out of a validator
const CONTROL = /[\x00-\x1f\x7f]/;

const annexKey = fc.oneof(annexKeyFields, otherKeyFields).map((fields) => formatAnnexKey(fields as AnnexKey));
const bucketName = fc.stringMatching(/^[a-z0-9][a-z0-9-]{1,20}[a-z0-9]$/);
const isoTime = fc.date({ min: new Date(0), max: new Date("9999-12-31T23:59:59Z"), noInvalidDate: true }).map((d) => d.toISOString());
const anyText = fc.oneof(fc.string({ unit: "binary", maxLength: 80 }), hostile(refName), hostile(annexKey), hostile(repoName));

describe("property: names", () => {
  it("every valid name is accepted unchanged; anything else is a ProtocolError with the name's code, never a crash", () => {
    fc.assert(
      fc.property(repoName, agentId, refName, (repo, agent, ref) => {
        assert.equal(assertRepoName(repo), repo);
        assert.equal(assertAgentId(agent), agent);
        assert.equal(assertRefName(ref), ref);
      }),
      runs,
    );
    const cases: Array<[(text: string) => string, string, fc.Arbitrary<string>]> = [
      [assertRepoName, "invalid-repo-name", hostile(repoName)],
      [assertAgentId, "invalid-agent-id", hostile(agentId)],
      [assertRefName, "invalid-ref-name", hostile(refName)],
    ];
    for (const [validate, code, input] of cases) {
      fc.assert(
        fc.property(input, (text) => {
          const accepted = returnsOrThrowsTyped(() => validate(text), ProtocolError, [code]);
          if (accepted !== undefined) {
            assert.equal(accepted, text);
            assert.doesNotMatch(accepted, CONTROL);
            assert.doesNotMatch(accepted, /[\uD800-\uDFFF]/u, "a name becomes an S3 key, which must be valid UTF-8");
          }
        }),
        runs,
      );
    }
  });

  it("normalizePrefix is idempotent and refuses everything else with invalid-prefix", () => {
    fc.assert(
      fc.property(prefix, (p) => {
        assert.equal(normalizePrefix(p), p);
        assert.equal(normalizePrefix(p.replace(/\/$/, "")), p);
      }),
      runs,
    );
    fc.assert(
      fc.property(hostile(prefix), (p) => {
        const normal = returnsOrThrowsTyped(() => normalizePrefix(p), ProtocolError, ["invalid-prefix"]);
        if (normal !== undefined) assert.equal(normalizePrefix(normal), normal);
      }),
      runs,
    );
  });
});

describe("property: bucket layout", () => {
  it("parse(build(x)) = x for every kind of key, under any prefix", () => {
    fc.assert(
      fc.property(prefix, repoName, refName, agentId, annexKey, packBaseName, (p, repo, ref, agent, key, pack) => {
        const layout = new BucketLayout(p);
        const expect = (key: string, parsed: ParsedKey) => assert.deepEqual(layout.parse(key), parsed);
        expect(layout.head(repo), { kind: "head", repo });
        if (!ref.startsWith("refs/synced/")) expect(layout.ref(repo, ref), { kind: "ref", repo, ref });
        expect(layout.syncedRef(repo, agent, ref), { kind: "synced-ref", repo, agent, ref });
        expect(layout.pack(repo, `${pack}.pack`), { kind: "pack", repo, file: `${pack}.pack` });
        expect(layout.pack(repo, `${pack}.idx`), { kind: "pack", repo, file: `${pack}.idx` });
        expect(layout.infoPacks(repo), { kind: "info-packs", repo });
        expect(layout.infoRefs(repo), { kind: "info-refs", repo });
        expect(layout.retiredPacks(repo), { kind: "retired-packs", repo });
        expect(layout.annexObject(repo, key), { kind: "annex-object", repo, key });
        expect(layout.annexUuid(repo), { kind: "annex-uuid", repo });
        expect(layout.agent(repo, agent), { kind: "agent", repo, agent });
        expect(layout.formatMarker(), { kind: "format-marker" });
        assert.deepEqual(parseSyncedRefName(syncedRefName(agent, ref)), { agent, ref });
      }),
      runs,
    );
  });

  it("any other key is 'other' or a ProtocolError, never a crash, and what it returns rebuilds the same key", () => {
    const layoutKey = fc.tuple(prefix, repoName, refName, agentId, annexKey).chain(([p, repo, ref, agent, key]) => {
      const layout = new BucketLayout(p);
      return fc.constantFrom(
        layout.ref(repo, ref),
        layout.syncedRef(repo, agent, ref),
        layout.annexObject(repo, key),
        layout.agent(repo, agent),
      );
    });
    fc.assert(
      fc.property(fc.oneof(hostile(layoutKey), anyText), (key) => {
        const layout = new BucketLayout();
        const parsed = returnsOrThrowsTyped(() => layout.parse(key), ProtocolError);
        if (parsed === undefined || parsed.kind === "other") return;
        const rebuilt: Partial<Record<ParsedKey["kind"], () => string>> = {
          ref: () => parsed.kind === "ref" && layout.ref(parsed.repo, parsed.ref),
          "synced-ref": () => parsed.kind === "synced-ref" && layout.syncedRef(parsed.repo, parsed.agent, parsed.ref),
          "annex-object": () => parsed.kind === "annex-object" && layout.annexObject(parsed.repo, parsed.key),
          agent: () => parsed.kind === "agent" && layout.agent(parsed.repo, parsed.agent),
        } as Record<string, () => string>;
        const build = rebuilt[parsed.kind];
        if (build) assert.equal(build(), key, "a key the layout accepts is exactly the key it would build");
      }),
      runs,
    );
  });
});

describe("property: git-annex keys", () => {
  it("parse(format(k)) = k, and format(parse(s)) = s for every text that parses (one spelling per key)", () => {
    fc.assert(
      fc.property(fc.oneof(annexKeyFields, otherKeyFields), (fields) => {
        assert.deepEqual(parseAnnexKey(formatAnnexKey(fields as AnnexKey)), { ...fields });
      }),
      runs,
    );
    fc.assert(
      fc.property(fc.oneof(hostile(annexKey), anyText), (text) => {
        const key = returnsOrThrowsTyped(() => parseAnnexKey(text), ProtocolError, ["invalid-annex-key"]);
        if (key !== undefined) {
          assert.equal(formatAnnexKey(key), text);
          assert.doesNotMatch(text, /[\uD800-\uDFFF]/u, "a key becomes an S3 key and a file name");
        }
      }),
      runs,
    );
  });

  it("the key of any file name parses, names its digest, and hashes to git-annex's directory shapes", () => {
    fc.assert(
      fc.property(
        fc.nat(),
        fc.oneof(
          fc.string({ unit: "binary", maxLength: 40 }),
          hostile(fc.constant("a.tar.gz")),
          fc.constantFrom(...NASTY).map((n) => `x.${n}`),
        ),
        (size, fileName) => {
          const hash = createHash("sha256").update(fileName).digest("hex");
          const key = sha256eKey(hash, size, fileName);
          assert.equal(parseAnnexKey(key).size, size);
          assert.deepEqual(keyDigest(key), { algorithm: "sha256", hex: hash });
          assert.match(keyExtension(fileName), /^(\.[^./]{1,4}){0,2}$/);
          assert.match(hashDirLower(key, md5), /^[0-9a-f]{3}\/[0-9a-f]{3}\/$/);
          assert.match(hashDirMixed(key, md5), /^[0-9zqjxkmvwgpfZQJXKMVWGPF]{2}\/[0-9zqjxkmvwgpfZQJXKMVWGPF]{2}\/$/);
        },
      ),
      runs,
    );
  });
});

const changeMessage: fc.Arbitrary<ChangeMessage> = fc
  .record(
    {
      bucket: bucketName,
      prefix: prefix.filter((p) => p !== ""),
      repo: repoName,
      etag: fc.string({ maxLength: 80 }),
      size: fc.maxSafeNat(),
      by: agentId,
      at: isoTime,
      seq: fc.string({ unit: fc.constantFrom(..."0123456789ABCDEF"), maxLength: 64 }),
    },
    { requiredKeys: ["bucket", "repo", "at"] },
  )
  .chain((base) =>
    fc.oneof(
      refName.map((ref) => ({ v: 1 as const, ...base, kind: "refs" as const, ref })),
      annexKey.map((key) => ({ v: 1 as const, ...base, kind: "content" as const, key })),
    ),
  );

describe("property: change messages", () => {
  it("decode(encode(m)) = m, and as XMPP attributes too", () => {
    fc.assert(
      fc.property(changeMessage, (message) => {
        assert.deepEqual(decodeChangeMessage(encodeChangeMessage(message)), message);
        assert.deepEqual(changeFromXmppAttributes(changeToXmppAttributes(message)), message);
      }),
      runs,
    );
  });

  it("any other body or attribute set is an invalid-message ProtocolError", () => {
    const body = fc.oneof(
      anyText,
      changeMessage.chain((m) => hostile(fc.constant(JSON.stringify(m)))),
      fc.json(),
      changeMessage.chain((m) =>
        fc
          .tuple(fc.constantFrom(...Object.keys(m)), fc.oneof(fc.string({ unit: "binary" }), fc.jsonValue()))
          .map(([field, value]) => JSON.stringify({ ...m, [field]: value })),
      ),
    );
    fc.assert(
      fc.property(body, (text) => {
        returnsOrThrowsTyped(() => decodeChangeMessage(text), ProtocolError, ["invalid-message"]);
      }),
      runs,
    );
    fc.assert(
      fc.property(changeMessage, fc.string(), fc.string({ unit: "binary" }), (m, name, value) => {
        const attributes: Record<string, string> = { ...changeToXmppAttributes(m), [name]: value };
        returnsOrThrowsTyped(() => changeFromXmppAttributes(attributes), ProtocolError, ["invalid-message"]);
      }),
      runs,
    );
  });
});

describe("property: S3 and SNS events", () => {
  it("event keys: decode(encode(k)) = k for every key S3 can hold; a key that is not valid UTF-8 is refused, typed", () => {
    fc.assert(
      fc.property(fc.string({ unit: "grapheme", maxLength: 60 }), (key) => assert.equal(decodeEventKey(encodeEventKey(key)), key)),
      runs,
    );
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 60 }), (key) => {
        const encoded = returnsOrThrowsTyped(() => encodeEventKey(key), ProtocolError, ["invalid-key"]);
        if (encoded !== undefined) assert.equal(decodeEventKey(encoded), key);
      }),
      runs,
    );
    fc.assert(
      fc.property(hostile(fc.constant("annex/demo/a%20b+c%2B")), (encoded) => {
        returnsOrThrowsTyped(() => decodeEventKey(encoded), ProtocolError, ["invalid-event"]);
      }),
      runs,
    );
  });

  it("a change to a layout key becomes the change message that names it; hostile records are rejected one by one", () => {
    fc.assert(
      fc.property(prefix, repoName, refName, agentId, annexKey, (p, repo, ref, agent, key) => {
        const layout = new BucketLayout(p);
        const keys = [layout.ref(repo, ref), layout.syncedRef(repo, agent, ref), layout.annexObject(repo, key)];
        const { changes, rejected } = parseS3Event({ Records: keys.map((k) => s3Record(encodeEventKey(k))) });
        assert.deepEqual(rejected, []);
        assert.deepEqual(
          changes.map((c) => c.key),
          keys,
        );
        const messages = changes.map((c) => changeMessageFromS3(c, layout));
        if (!ref.startsWith("refs/synced/")) assert.equal(messages[0]?.kind === "refs" && messages[0].ref, ref);
        assert.deepEqual(messages[1]?.kind === "refs" && [messages[1].ref, messages[1].by], [ref, agent]);
        assert.equal(messages[2]?.kind === "content" && messages[2].key, key);
      }),
      runs,
    );
    const record = fc.oneof(
      fc.jsonValue(),
      anyText.map((key) => s3Record(key)),
      fc
        .tuple(fc.constantFrom("eventTime", "eventVersion", "s3", "eventSource"), fc.jsonValue())
        .map(([f, v]) => s3Record("k", { [f]: v })),
    );
    fc.assert(
      fc.property(fc.array(record, { maxLength: 5 }), (records) => {
        const parsed = parseS3Event({ Records: records });
        assert.equal(parsed.changes.length + parsed.rejected.length, records.length);
        for (const change of parsed.changes) {
          returnsOrThrowsTyped(() => changeMessageFromS3(change, new BucketLayout()), ProtocolError);
        }
      }),
      runs,
    );
    fc.assert(
      fc.property(fc.jsonValue(), (event) => {
        returnsOrThrowsTyped(() => parseS3Event(event), ProtocolError, ["invalid-event"]);
        returnsOrThrowsTyped(() => parseSnsEvent(event), ProtocolError, ["invalid-event"]);
      }),
      runs,
    );
  });

  it("SNS: an envelope becomes the event Lambda would get, which parses back to the same message", () => {
    const envelope = fc.record({
      Type: fc.constant("Notification"),
      MessageId: fc.uuid(),
      TopicArn: fc.string({ minLength: 1 }),
      Message: fc.string({ unit: "binary" }),
      Timestamp: isoTime,
    });
    fc.assert(
      fc.property(envelope, (e) => {
        const event = snsEventFromEnvelope(JSON.stringify(e), "arn:sub");
        assert.deepEqual(parseSnsEvent(event), {
          notifications: [{ messageId: e.MessageId, topicArn: e.TopicArn, message: e.Message }],
          rejected: [],
        });
      }),
      runs,
    );
    fc.assert(
      fc.property(
        fc.oneof(
          anyText,
          envelope.chain((e) => hostile(fc.constant(JSON.stringify(e)))),
        ),
        (body) => {
          returnsOrThrowsTyped(() => snsEventFromEnvelope(body, "arn:sub"), ProtocolError, ["invalid-event"]);
        },
      ),
      runs,
    );
  });
});

describe("property: remote URLs, XMPP addresses and stack outputs", () => {
  it("remote URLs: parse(format(l)) = l; anything else is invalid-remote-url", () => {
    const location = fc.record({ bucket: bucketName, prefix, repo: repoName });
    fc.assert(
      fc.property(location, (l) => {
        assert.deepEqual(parseRemoteUrl(formatRemoteUrl(l)), { ...l });
      }),
      runs,
    );
    fc.assert(
      fc.property(
        fc.oneof(
          anyText,
          location.chain((l) => hostile(fc.constant(formatRemoteUrl(l)))),
        ),
        (url) => {
          const parsed = returnsOrThrowsTyped(() => parseRemoteUrl(url), ProtocolError, ["invalid-remote-url"]);
          if (parsed) assert.deepEqual(parseRemoteUrl(formatRemoteUrl(parsed)), parsed);
        },
      ),
      runs,
    );
  });

  it("XMPP addresses: split and joined again give the same address; anything else is invalid-jid", () => {
    const jid = fc
      .tuple(
        fc.stringMatching(/^[a-z0-9._-]{1,20}$/),
        fc.stringMatching(/^[a-z0-9.-]{1,30}$/),
        fc.option(fc.string({ unit: "grapheme", minLength: 1, maxLength: 20 }), { nil: undefined }),
      )
      .filter(([, , resource]) => resource === undefined || !CONTROL.test(resource))
      .map(([local, domain, resource]) => `${local}@${domain}${resource === undefined ? "" : `/${resource}`}`);
    fc.assert(
      fc.property(jid, (text) => {
        const { local, domain, resource } = splitJid(text);
        assert.equal(`${local}@${domain}${resource === undefined ? "" : `/${resource}`}`, text);
      }),
      runs,
    );
    fc.assert(
      fc.property(fc.oneof(anyText, hostile(jid)), (text) => {
        const accepted = returnsOrThrowsTyped(() => assertJid(text), ProtocolError, ["invalid-jid"]);
        if (accepted !== undefined) assert.doesNotMatch(accepted, CONTROL);
      }),
      runs,
    );
  });

  it("stack outputs: what the stack writes reads back; a missing output is a typed error naming it", () => {
    const settings = fc.record({
      bucket: bucketName,
      region: fc.constantFrom("us-east-1", "eu-west-3"),
      prefix,
      changeTopicArn: fc.string({ minLength: 1 }),
      repos: fc.array(repoName, { minLength: 1, maxLength: 4 }),
      agent: fc.stringMatching(/^[a-z][a-z0-9-]{0,20}$/),
      queueUrl: fc.webUrl(),
    });
    fc.assert(
      fc.property(settings, fc.nat(), (s, drop) => {
        // As cdk/stack.ts writes them: "/" for no prefix, repositories joined by ",".
        const keys = agentOutputKeys(s.agent);
        const outputs = [
          { OutputKey: STACK_OUTPUT.bucket, OutputValue: s.bucket },
          { OutputKey: STACK_OUTPUT.region, OutputValue: s.region },
          { OutputKey: STACK_OUTPUT.prefix, OutputValue: s.prefix || "/" },
          { OutputKey: STACK_OUTPUT.changeTopicArn, OutputValue: s.changeTopicArn },
          { OutputKey: STACK_OUTPUT.repos, OutputValue: s.repos.join(",") },
          { OutputKey: keys.queueUrl, OutputValue: s.queueUrl },
          { OutputKey: keys.credentialsSecretArn, OutputValue: "arn:secret" },
          { OutputKey: keys.repos, OutputValue: s.repos.join(",") },
        ];
        assert.deepEqual(readStackOutputs(outputs, s.agent), {
          bucket: s.bucket,
          region: s.region,
          prefix: s.prefix,
          changeTopicArn: s.changeTopicArn,
          repos: s.repos,
          agent: { queueUrl: s.queueUrl, credentialsSecretArn: "arn:secret", repos: s.repos },
        });
        const missing = outputs.filter((_, i) => i !== drop % outputs.length);
        assert.throws(
          () => readStackOutputs(missing, s.agent),
          (e: unknown) =>
            e instanceof ProtocolError &&
            e.code === "missing-stack-output" &&
            e.message.includes(outputs[drop % outputs.length]!.OutputKey),
        );
      }),
      runs,
    );
  });
});

describe("counterexamples the properties found (each passed the parser before its fix)", () => {
  const refused = (parse: () => unknown, code: string) =>
    assert.throws(parse, (e: unknown) => e instanceof ProtocolError && e.code === code);

  it("a ref name or an annex key that is not valid Unicode is refused (S3 would store U+FFFD instead)", () => {
    // A file name with a byte that is not UTF-8 (escaped as a lone surrogate) still has a key: no extension.
    assert.equal(sha256eKey("a".repeat(64), 1, "x.\udcff"), `SHA256E-s1--${"a".repeat(64)}`);
    refused(() => assertRefName("refs/\ud800aa"), "invalid-ref-name");
    refused(() => parseAnnexKey("WORM-s100000000000000-m1000000000--\udfffaa"), "invalid-annex-key");
    refused(() => encodeEventKey("annex/demo/a\ud800"), "invalid-key");
  });

  it("an annex key has one spelling: reordered, repeated or zero-padded fields are refused", () => {
    const hash = "a".repeat(64);
    for (const text of [`SHA256E-m3-s5--${hash}.txt`, `SHA256E-s5-s7--${hash}.txt`, `SHA256E-s05--${hash}.txt`, `SHA256E-C1-S2--${hash}`]) {
      refused(() => parseAnnexKey(text), "invalid-annex-key");
    }
    assert.equal(formatAnnexKey(parseAnnexKey(`SHA256E-s5-m3-S2-C1--${hash}.txt`)), `SHA256E-s5-m3-S2-C1--${hash}.txt`);
  });

  it("an XMPP address with a terminal escape in its local part is refused", () => {
    refused(() => assertJid("\u001b[31ma@a"), "invalid-jid");
  });

  it("a stack without an output is a typed error naming the output", () => {
    assert.throws(
      () => readStackOutputs([], undefined),
      (e: unknown) => e instanceof ProtocolError && e.code === "missing-stack-output" && e.message.includes(STACK_OUTPUT.bucket),
    );
  });
});

describe("property: the deployment contract (function environments)", () => {
  const commaFree = fc.string({ minLength: 1, maxLength: 30 }).filter((s) => !s.includes(",") && s.trim() === s);
  const jidText = fc
    .tuple(fc.stringMatching(/^[a-z0-9._-]{1,12}$/), fc.stringMatching(/^[a-z0-9.-]{1,20}$/))
    .map(([local, domain]) => `${local}@${domain}`);

  it("what the stack writes is what each handler reads back", () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1 }), prefix, (topicArn, p) => {
        assert.deepEqual(parseChangeFanoutEnvironment(changeFanoutEnvironment({ topicArn, prefix: p })), { topicArn, prefix: p });
      }),
      runs,
    );
    fc.assert(
      fc.property(commaFree, prefix, fc.array(repoName, { maxLength: 5 }), fc.nat({ max: 10_000 }), (bucket, p, repos, graceMinutes) => {
        const settings = { bucket, prefix: p, repos, graceMinutes };
        assert.deepEqual(parseCompactionEnvironment(compactionEnvironment(settings)), settings);
      }),
      runs,
    );
    fc.assert(
      fc.property(
        fc.stringMatching(/^xmpps?:\/\/[a-z0-9.-]{1,20}(:[0-9]{1,5})?$/),
        fc.option(fc.stringMatching(/^[a-z0-9.-]{1,20}$/), { nil: undefined }),
        fc.array(jidText, { minLength: 1, maxLength: 4 }),
        commaFree,
        fc.integer({ min: 100, max: 60_000 }),
        (service, domain, recipients, secretId, timeoutMs) => {
          const settings = { service, domain, recipients, secretId, timeoutMs };
          assert.deepEqual(parseXmppFanoutEnvironment(xmppFanoutEnvironment(settings)), settings);
        },
      ),
      runs,
    );
  });

  it("any other environment is an invalid-function-environment ProtocolError", () => {
    const env = fc.dictionary(
      fc.constantFrom(
        "CHANGE_TOPIC_ARN",
        "BUCKET_PREFIX",
        "BUCKET_NAME",
        "REPOS",
        "COMPACTION_GRACE_MINUTES",
        "XMPP_SERVICE",
        "XMPP_DOMAIN",
        "XMPP_RECIPIENTS",
        "XMPP_SECRET_ID",
        "XMPP_TIMEOUT_MS",
      ),
      anyText,
    );
    fc.assert(
      fc.property(env, (e) => {
        for (const parse of [parseChangeFanoutEnvironment, parseCompactionEnvironment, parseXmppFanoutEnvironment]) {
          returnsOrThrowsTyped(() => parse(e), ProtocolError, ["invalid-function-environment"]);
        }
      }),
      runs,
    );
  });
});
