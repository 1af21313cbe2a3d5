import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  BucketLayout,
  bucketEventRoutes,
  changeFanoutEnvironment,
  compactionEnvironment,
  parseChangeFanoutEnvironment,
  parseCompactionEnvironment,
  parseXmppFanoutEnvironment,
  ProtocolError,
  xmppFanoutEnvironment,
} from "../../../protocol/index.ts";

/** The deployment contract: what the stack and `cloudbridge local` write is what the handlers read. */
describe("the deployment contract", () => {
  it("gives the change function back the topic and prefix it was deployed with", () => {
    const env = changeFanoutEnvironment({ topicArn: "arn:aws:sns:us-east-1:123456789012:changes", prefix: "team/" });
    assert.deepEqual(parseChangeFanoutEnvironment(env), { topicArn: "arn:aws:sns:us-east-1:123456789012:changes", prefix: "team/" });
    assert.throws(
      () => parseChangeFanoutEnvironment({}),
      (error: unknown) =>
        error instanceof ProtocolError &&
        error.code === "invalid-function-environment" &&
        /CHANGE_TOPIC_ARN is not set/.test(error.message),
    );
  });

  it("gives the compaction function back its bucket, prefix, repositories and grace period; refuses a grace that is not minutes", () => {
    const settings = { bucket: "b", prefix: "", repos: ["notes", "photos"], graceMinutes: 15 };
    assert.deepEqual(parseCompactionEnvironment(compactionEnvironment(settings)), settings);
    const queued = { ...settings, queueUrl: "https://sqs.eu-west-1.amazonaws.com/123456789012/compaction" };
    assert.deepEqual(parseCompactionEnvironment(compactionEnvironment(queued)), queued);
    assert.throws(() => parseCompactionEnvironment({ BUCKET_NAME: "b", COMPACTION_QUEUE_URL: "compaction" }), /COMPACTION_QUEUE_URL/);
    assert.deepEqual(parseCompactionEnvironment({ BUCKET_NAME: "b" }), { bucket: "b", prefix: "", repos: [], graceMinutes: 60 });
    assert.throws(() => parseCompactionEnvironment({ BUCKET_NAME: "b", COMPACTION_GRACE_MINUTES: "soon" }), /COMPACTION_GRACE_MINUTES/);
    assert.throws(() => parseCompactionEnvironment({ BUCKET_NAME: "b", COMPACTION_GRACE_MINUTES: "-1" }), /COMPACTION_GRACE_MINUTES/);
    assert.throws(() => parseCompactionEnvironment({}), /BUCKET_NAME is not set/);
  });

  it("gives the XMPP function back its settings, never a password", () => {
    const settings = {
      service: "xmpps://chat.example.org:5223",
      domain: undefined,
      recipients: ["a@example.org"],
      secretId: "s",
      timeoutMs: 10_000,
    };
    const env = xmppFanoutEnvironment(settings);
    assert.ok(!Object.keys(env).some((name) => /PASSWORD/i.test(name)));
    assert.deepEqual(parseXmppFanoutEnvironment(env), settings);
  });

  it("routes ObjectCreated under <prefix>repos/ and <prefix>annex/, and ObjectRemoved under <prefix>repos/ (ref deletions), to the change function, and nothing else", () => {
    assert.deepEqual(
      bucketEventRoutes(new BucketLayout("team/")).map(({ target, events, prefix }) => ({ target, events, prefix })),
      [
        { target: "changeFanout", events: ["ObjectCreated", "ObjectRemoved"], prefix: "team/repos/" },
        { target: "changeFanout", events: ["ObjectCreated"], prefix: "team/annex/" },
      ],
    );
  });
});
