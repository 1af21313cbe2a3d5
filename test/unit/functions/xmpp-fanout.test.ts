import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { GetSecretValueCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import type { Element } from "@xmpp/client";
import { mockClient } from "aws-sdk-client-mock";
import { cachedCredentials, parseXmppSecret } from "../../../functions/xmpp-fanout/credentials.ts";
import { sendChangeHeadlines } from "../../../functions/xmpp-fanout/notify.ts";
import { chooseSaslMechanism } from "../../../protocol/xmpp-sasl.ts";
import { parseXmppFanoutEnvironment } from "../../../protocol/deployment.ts";
import { encodeChangeMessage, type ChangeMessage } from "../../../protocol/change-message.ts";
import { MAX_SNS_RECORDS_PER_EVENT } from "../../../protocol/sns-event.ts";
import { changeFromXmppAttributes, XMPP_CHANGE_NAMESPACE } from "../../../protocol/xmpp-change.ts";
import { s3Record } from "../../helpers/s3-records.ts";
import { snsRecord } from "../../helpers/sns-records.ts";

const refChange: ChangeMessage = {
  v: 1,
  bucket: "cloudbridge",
  repo: "demo",
  kind: "refs",
  ref: "refs/heads/main",
  by: "0f8fad5b-d9cb-469f-a165-70867728950e",
  etag: "0123abcd",
  at: "2026-11-21T12:00:00.000Z",
};
const contentChange: ChangeMessage = {
  v: 1,
  bucket: "cloudbridge",
  repo: "demo",
  kind: "content",
  key: `SHA256E-s1048576--${"c".repeat(64)}.jpg`,
  size: 1048576,
  at: "2026-11-21T12:00:01.000Z",
};

function harness(options: { fail?: Error } = {}) {
  const sent: Element[][] = [];
  const warnings: unknown[][] = [];
  const errors: unknown[][] = [];
  const counts: Record<string, number> = {};
  return {
    sent,
    warnings,
    errors,
    counts,
    deps: {
      recipients: ["agent@example.org", "phone@example.org/pocket"],
      send: async (stanzas: Element[]) => {
        if (options.fail) throw options.fail;
        sent.push(stanzas);
      },
      logger: {
        info: () => {},
        warn: (...args: unknown[]) => void warnings.push(args),
        error: (...args: unknown[]) => void errors.push(args),
      },
      count: (name: string, value: number) => void (counts[name] = (counts[name] ?? 0) + value),
    },
  };
}

describe("XMPP fan-out", () => {
  it("sends one headline per change and recipient, whose <changed/> payload reads back as the change message", async () => {
    const h = harness();
    const result = await sendChangeHeadlines(
      { Records: [snsRecord(encodeChangeMessage(refChange)), snsRecord(encodeChangeMessage(contentChange))] },
      h.deps,
    );
    assert.deepEqual(result, { sent: 4, skipped: 0 });
    assert.equal(h.sent.length, 1, "one session for the whole event");
    const stanzas = h.sent[0]!;
    assert.deepEqual(
      stanzas.map((s) => s.attrs.to),
      ["agent@example.org", "phone@example.org/pocket", "agent@example.org", "phone@example.org/pocket"],
    );
    for (const stanza of stanzas) {
      assert.equal(stanza.name, "message");
      assert.equal(stanza.attrs.type, "headline");
      assert.match(stanza.getChildText("body") ?? "", /^cloudbridge: demo /);
    }
    const payloads = stanzas.map((s) => s.getChild("changed", XMPP_CHANGE_NAMESPACE));
    assert.deepEqual(changeFromXmppAttributes(payloads[0]!.attrs), refChange);
    assert.deepEqual(changeFromXmppAttributes(payloads[2]!.attrs), contentChange);
    assert.equal(h.counts.HeadlinesSent, 4);
    assert.equal(h.counts.RecordsSkipped, 0);
  });

  it("skips an event without Records, counted, without connecting", async () => {
    for (const event of [{}, { Records: "no" }, null, "text"]) {
      const h = harness();
      assert.deepEqual(await sendChangeHeadlines(event, h.deps), { sent: 0, skipped: 1 });
      assert.equal(h.sent.length, 0);
      assert.equal(h.counts.RecordsSkipped, 1);
      assert.equal(h.warnings.length, 1);
    }
  });

  it("skips records from another source, messages that are not change messages and keys outside the layout; sends the rest", async () => {
    const h = harness();
    const outsideLayout = encodeChangeMessage(refChange).replace('"repo":"demo"', '"repo":"../etc"');
    const result = await sendChangeHeadlines(
      {
        Records: [
          s3Record("repos/demo.git/refs/heads/main"), // an S3 record, not an SNS one
          snsRecord("not json"),
          snsRecord(JSON.stringify({ Records: [s3Record("repos/demo.git/refs/heads/main")] })),
          snsRecord(outsideLayout),
          snsRecord(JSON.stringify({ ...refChange, v: 2 })),
          snsRecord(encodeChangeMessage(refChange)),
        ],
      },
      h.deps,
    );
    assert.deepEqual(result, { sent: 2, skipped: 5 });
    assert.equal(h.warnings.length, 5);
    assert.equal(h.counts.RecordsSkipped, 5);
    assert.equal(h.sent[0]!.length, 2);
  });

  it(`sends at most ${MAX_SNS_RECORDS_PER_EVENT} records of an oversized event and counts the rest as skipped`, async () => {
    const h = harness();
    const records = Array.from({ length: MAX_SNS_RECORDS_PER_EVENT + 5 }, () => snsRecord(encodeChangeMessage(refChange)));
    const result = await sendChangeHeadlines({ Records: records }, h.deps);
    assert.deepEqual(result, { sent: MAX_SNS_RECORDS_PER_EVENT * 2, skipped: 5 });
    assert.equal(h.counts.RecordsSkipped, 5);
  });

  it("throws when the XMPP server cannot be reached, counting XmppFailures, so Lambda retries and then dead-letters", async () => {
    const h = harness({ fail: new Error("connect ECONNREFUSED 127.0.0.1:5222") });
    await assert.rejects(sendChangeHeadlines({ Records: [snsRecord(encodeChangeMessage(refChange))] }, h.deps), /ECONNREFUSED/);
    assert.equal(h.counts.XmppFailures, 1);
    assert.equal(h.errors.length, 1);
    assert.equal(h.counts.HeadlinesSent, undefined);
  });
});

describe("XMPP credentials", () => {
  const secret = JSON.stringify({ jid: "notifier@example.org", password: "s3cret-Pa55" });

  it("are fetched from Secrets Manager once and cached across invocations until the TTL passes", async () => {
    const sm = mockClient(SecretsManagerClient);
    try {
      sm.on(GetSecretValueCommand, { SecretId: "cloudbridge/xmpp" }).resolves({ SecretString: secret });
      const client = new SecretsManagerClient({ region: "us-east-1" });
      let clock = 0;
      const cache = cachedCredentials(
        async () => (await client.send(new GetSecretValueCommand({ SecretId: "cloudbridge/xmpp" }))).SecretString,
        { ttlMs: 1000, now: () => clock },
      );
      const [a, b] = await Promise.all([cache.get(), cache.get()]);
      await cache.get();
      assert.deepEqual(a, { jid: "notifier@example.org", password: "s3cret-Pa55" });
      assert.equal(b, a);
      assert.equal(sm.commandCalls(GetSecretValueCommand).length, 1);
      clock = 1000;
      await cache.get();
      assert.equal(sm.commandCalls(GetSecretValueCommand).length, 2);
      cache.invalidate();
      await cache.get();
      assert.equal(sm.commandCalls(GetSecretValueCommand).length, 3);
    } finally {
      sm.restore();
    }
  });

  it("do not cache a failed fetch", async () => {
    let calls = 0;
    const cache = cachedCredentials(async () => {
      calls += 1;
      if (calls === 1) throw new Error("AccessDeniedException");
      return secret;
    });
    await assert.rejects(cache.get(), /AccessDenied/);
    assert.equal((await cache.get()).jid, "notifier@example.org");
  });

  it("reject a malformed secret with an error that names the field and never shows the secret", () => {
    const bad = [
      "",
      "s3cret-Pa55",
      JSON.stringify({ jid: "notifier", password: "s3cret-Pa55" }),
      JSON.stringify({ jid: "notifier@example.org/res", password: "s3cret-Pa55" }),
      JSON.stringify({ jid: "notifier@example.org" }),
    ];
    for (const text of bad) {
      assert.throws(
        () => parseXmppSecret(text),
        (error: Error) => !error.message.includes("s3cret-Pa55") && /XMPP secret/.test(error.message),
      );
    }
  });
});

describe("XMPP settings", () => {
  const env = {
    XMPP_SERVICE: "xmpps://xmpp.example.org:5223",
    XMPP_RECIPIENTS: "agent@example.org, phone@example.org/pocket",
    XMPP_SECRET_ID: "arn:aws:secretsmanager:us-east-1:123456789012:secret:cloudbridge-xmpp",
  };
  it("reads the function's environment", () => {
    const settings = parseXmppFanoutEnvironment(env);
    assert.deepEqual(settings.recipients, ["agent@example.org", "phone@example.org/pocket"]);
    assert.equal(settings.timeoutMs, 5000);
  });
  it("says which variable is wrong", () => {
    assert.throws(() => parseXmppFanoutEnvironment({ ...env, XMPP_SERVICE: "https://x" }), /XMPP_SERVICE must be xmpps/);
    assert.throws(() => parseXmppFanoutEnvironment({ ...env, XMPP_RECIPIENTS: "agent" }), /XMPP_RECIPIENTS/);
    assert.throws(() => parseXmppFanoutEnvironment({ ...env, XMPP_RECIPIENTS: " , " }), /XMPP_RECIPIENTS names no recipient/);
    assert.throws(() => parseXmppFanoutEnvironment({ ...env, XMPP_SECRET_ID: undefined }), /XMPP_SECRET_ID/);
  });
});

describe("XMPP SASL mechanism", () => {
  const offered = ["SCRAM-SHA-1", "PLAIN"];
  it("is PLAIN over TLS (fast), and on loopback", () => {
    assert.equal(chooseSaslMechanism({ secure: true, host: "xmpp.example.org", offered }), "PLAIN");
    for (const host of ["127.0.0.1", "::1", "[::1]", "localhost"])
      assert.equal(chooseSaslMechanism({ secure: false, host, offered }), "PLAIN");
  });
  it("is SCRAM on an unencrypted connection to another machine, so the password never crosses the network in clear", () => {
    assert.equal(chooseSaslMechanism({ secure: false, host: "xmpp.example.org", offered }), "SCRAM-SHA-1");
    assert.equal(chooseSaslMechanism({ secure: false, host: "10.0.0.5", offered: ["PLAIN"] }), undefined);
    assert.equal(chooseSaslMechanism({ secure: true, host: "xmpp.example.org", offered: ["SCRAM-SHA-1"] }), "SCRAM-SHA-1");
  });
});
