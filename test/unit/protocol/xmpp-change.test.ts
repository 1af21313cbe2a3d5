import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ProtocolError } from "../../../protocol/errors.ts";
import { assertJid, splitJid } from "../../../protocol/jid.ts";
import { parseSnsEvent, snsEventFromEnvelope } from "../../../protocol/sns-event.ts";
import { changeFromXmppAttributes, changeToXmppAttributes, XMPP_CHANGE_NAMESPACE } from "../../../protocol/xmpp-change.ts";
import type { ChangeMessage } from "../../../protocol/change-message.ts";

describe("the <changed/> XMPP payload", () => {
  const change: ChangeMessage = {
    v: 1,
    bucket: "cloudbridge",
    prefix: "team/",
    repo: "photos",
    kind: "content",
    key: `SHA256E-s12--${"a".repeat(64)}.jpg`,
    size: 12,
    seq: "0055AED6DCD90281E5",
    at: "2026-11-21T12:00:00.000Z",
  };
  it("writes every field as an attribute in the cloudbridge namespace and reads them back", () => {
    const attributes = changeToXmppAttributes(change);
    assert.equal(attributes.xmlns, XMPP_CHANGE_NAMESPACE);
    assert.equal(attributes.size, "12");
    assert.deepEqual(changeFromXmppAttributes(attributes), change);
  });
  it("refuses attributes that are not a change message, saying which", () => {
    assert.throws(
      () => changeFromXmppAttributes({ ...changeToXmppAttributes(change), repo: "../x" }),
      (e: ProtocolError) => e.code === "invalid-message" && /repo/.test(e.message),
    );
    assert.throws(() => changeFromXmppAttributes({ ...changeToXmppAttributes(change), size: "12abc" }), ProtocolError);
    assert.throws(() => changeFromXmppAttributes({ xmlns: XMPP_CHANGE_NAMESPACE }), ProtocolError);
  });
});

describe("JIDs", () => {
  it("accepts bare and full JIDs and splits them", () => {
    assert.deepEqual(splitJid("agent@example.org/laptop one"), { local: "agent", domain: "example.org", resource: "laptop one" });
    assert.deepEqual(splitJid("agent@example.org"), { local: "agent", domain: "example.org", resource: undefined });
  });
  it("rejects what is not user@domain with an error that says the expected form", () => {
    for (const bad of ["agent", "@example.org", "a@b@c", "a b@example.org", "agent@exa mple.org", ""]) {
      assert.throws(
        () => assertJid(bad),
        (e: ProtocolError) => e.code === "invalid-jid" && /user@domain/.test(e.message),
        bad,
      );
    }
  });
});

describe("SNS events", () => {
  const envelope = JSON.stringify({
    Type: "Notification",
    MessageId: "m-1",
    TopicArn: "arn:aws:sns:us-east-1:000000000000:cloudbridge-changes",
    Message: '{"v":1}',
    Timestamp: "2026-11-21T12:00:00.000Z",
    MessageAttributes: { repo: { Type: "String", Value: "photos" } },
  });
  it("turns an SNS envelope into the event Lambda receives, which parses back to its notification", () => {
    const event = snsEventFromEnvelope(envelope, "arn:aws:sns:us-east-1:000000000000:cloudbridge-changes:sub");
    assert.equal(event.Records[0]!.EventSource, "aws:sns");
    assert.deepEqual(parseSnsEvent(event), {
      notifications: [{ messageId: "m-1", topicArn: "arn:aws:sns:us-east-1:000000000000:cloudbridge-changes", message: '{"v":1}' }],
      rejected: [],
    });
  });
  it("rejects a non-SNS record with its reason and throws for an event without Records", () => {
    const { rejected } = parseSnsEvent({ Records: [{ eventSource: "aws:s3" }] });
    assert.equal(rejected.length, 1);
    assert.match(rejected[0]!.reason, /not an SNS record/);
    assert.throws(
      () => parseSnsEvent({}),
      (e: ProtocolError) => e.code === "invalid-event",
    );
    assert.throws(
      () => snsEventFromEnvelope("{}", "arn"),
      (e: ProtocolError) => e.code === "invalid-event",
    );
  });
});
