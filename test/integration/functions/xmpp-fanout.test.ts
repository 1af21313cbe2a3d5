import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { spawn } from "node:child_process";
import { PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { GetQueueAttributesCommand, ReceiveMessageCommand, type SQSClient } from "@aws-sdk/client-sqs";
import type { Element } from "@xmpp/client";
import { sendChangeHeadlines } from "../../../functions/xmpp-fanout/notify.ts";
import { XmppAuthError, xmppStanzaSender } from "../../../functions/xmpp-fanout/sender.ts";
import { decodeChangeMessage, encodeChangeMessage, type ChangeMessage } from "../../../protocol/change-message.ts";
import { changeFromXmppAttributes, XMPP_CHANGE_NAMESPACE } from "../../../protocol/xmpp-change.ts";
import { startTestCloud, subscribeQueue, type TestCloud } from "../../helpers/local-cloud.ts";
import { startProsody, type TestProsody } from "../../helpers/prosody.ts";
import { snsRecord } from "../../helpers/sns-records.ts";
import { connectTestXmpp, type TestXmppClient } from "../../helpers/xmpp-client.ts";

const AGENT_PASSWORD = "agent-Pa55word";
const NOTIFIER_PASSWORD = "notifier-Pa55word";
const AGENT_ID = "0f8fad5b-d9cb-469f-a165-70867728950e";

const payloadOf = (message: Element) => {
  const changed = message.getChild("changed", XMPP_CHANGE_NAMESPACE);
  return changed ? changeFromXmppAttributes(changed.attrs) : undefined;
};
const headlineFor = (match: (change: ChangeMessage) => boolean) => (message: Element) => {
  const change = message.attrs.type === "headline" ? payloadOf(message) : undefined;
  return change !== undefined && match(change);
};

describe("XMPP fan-out against a real prosody", () => {
  let prosody: TestProsody;
  let agent: string;
  let notifier: string;
  let laptop: TestXmppClient;
  let desktop: TestXmppClient;
  let phone: TestXmppClient;

  before(async () => {
    prosody = await startProsody();
    agent = await prosody.register("agent", AGENT_PASSWORD);
    notifier = await prosody.register("notifier", NOTIFIER_PASSWORD);
    const other = await prosody.register("other", AGENT_PASSWORD);
    laptop = await connectTestXmpp({ service: prosody.service, jid: agent, password: AGENT_PASSWORD, resource: "laptop" });
    desktop = await connectTestXmpp({ service: prosody.service, jid: agent, password: AGENT_PASSWORD, resource: "desktop" });
    phone = await connectTestXmpp({ service: prosody.service, jid: other, password: AGENT_PASSWORD, resource: "phone" });
  });
  after(async () => {
    await laptop?.stop();
    await desktop?.stop();
    await phone?.stop();
    await prosody?.destroy();
  });

  it("a headline with the <changed/> payload, sent by the notifier account to the agent's bare JID, arrives at two resources", async () => {
    const change: ChangeMessage = {
      v: 1,
      bucket: "cloudbridge",
      repo: "photos",
      kind: "refs",
      ref: "refs/heads/main",
      by: AGENT_ID,
      etag: "5d41402abc4b2a76b9719d911017c592",
      at: new Date().toISOString(),
    };
    const logged: unknown[] = [];
    const logger = {
      info: (...a: unknown[]) => logged.push(a),
      warn: (...a: unknown[]) => logged.push(a),
      error: (...a: unknown[]) => logged.push(a),
    };
    const result = await sendChangeHeadlines(
      { Records: [snsRecord(encodeChangeMessage(change))] },
      {
        recipients: [agent],
        send: xmppStanzaSender({ service: prosody.service, credentials: { jid: notifier, password: NOTIFIER_PASSWORD }, timeoutMs: 5000 }),
        logger,
      },
    );
    assert.deepEqual(result, { sent: 1, skipped: 0 });
    for (const resource of [laptop, desktop]) {
      const message = await resource.waitFor(headlineFor((c) => c.repo === "photos" && c.etag === change.etag));
      assert.equal(message.attrs.from?.split("/")[0], notifier);
      assert.deepEqual(payloadOf(message), change);
      assert.equal(message.getChildText("body"), `cloudbridge: photos refs/heads/main changed by ${AGENT_ID}`);
    }
    assert.ok(!JSON.stringify(logged).includes(NOTIFIER_PASSWORD));
  });

  it("every change of an event reaches every recipient, bare and full JIDs, in one session", async () => {
    const at = new Date().toISOString();
    const changes: ChangeMessage[] = ["a", "b", "c"].map((branch) => ({
      v: 1,
      bucket: "cloudbridge",
      repo: "multi",
      kind: "refs",
      ref: `refs/heads/${branch}`,
      at,
    }));
    const result = await sendChangeHeadlines(
      { Records: changes.map((c) => snsRecord(encodeChangeMessage(c))) },
      {
        recipients: [agent, "other@localhost/phone"],
        send: xmppStanzaSender({ service: prosody.service, credentials: { jid: notifier, password: NOTIFIER_PASSWORD }, timeoutMs: 5000 }),
        logger: { info: () => {}, warn: () => {}, error: () => {} },
      },
    );
    assert.deepEqual(result, { sent: 6, skipped: 0 });
    for (const resource of [laptop, desktop, phone]) {
      for (const change of changes) {
        await resource.waitFor(
          headlineFor((c) => c.repo === "multi" && c.kind === "refs" && change.kind === "refs" && c.ref === change.ref),
        );
      }
    }
  });

  it("a wrong password is refused with an error that names the account, and the password appears in no log line or error", async () => {
    const logged: unknown[] = [];
    const logger = {
      info: (...a: unknown[]) => logged.push(a),
      warn: (...a: unknown[]) => logged.push(a),
      error: (...a: unknown[]) => logged.push(a),
    };
    const wrong = "wrong-Secret-123";
    const counts: Record<string, number> = {};
    const error = await sendChangeHeadlines(
      {
        Records: [
          snsRecord(
            encodeChangeMessage({
              v: 1,
              bucket: "cloudbridge",
              repo: "photos",
              kind: "refs",
              ref: "refs/heads/x",
              at: new Date().toISOString(),
            }),
          ),
        ],
      },
      {
        recipients: [agent],
        send: xmppStanzaSender({ service: prosody.service, credentials: { jid: notifier, password: wrong }, timeoutMs: 5000 }),
        logger,
        count: (name, value) => void (counts[name] = (counts[name] ?? 0) + value),
      },
    ).then(
      () => assert.fail("the login should have been refused"),
      (e: Error) => e,
    );
    assert.ok(error instanceof XmppAuthError, String(error));
    assert.match(error.message, /refused the login of notifier@localhost/);
    assert.equal(counts.XmppFailures, 1);
    assert.ok(!`${error.message}${error.stack}${JSON.stringify(logged)}`.includes(wrong));
  });
});

describe("XMPP fan-out in cloudbridge local: S3 write → change function → SNS → XMPP function → prosody", () => {
  let prosody: TestProsody;
  let t: TestCloud;
  let laptop: TestXmppClient;
  let desktop: TestXmppClient;
  let agentQueueUrl: string;

  before(async () => {
    prosody = await startProsody();
    const agent = await prosody.register("agent", AGENT_PASSWORD);
    const notifier = await prosody.register("notifier", NOTIFIER_PASSWORD);
    t = await startTestCloud({ xmpp: { service: prosody.service, recipients: [agent], jid: notifier, password: NOTIFIER_PASSWORD } });
    laptop = await connectTestXmpp({ service: prosody.service, jid: agent, password: AGENT_PASSWORD, resource: "laptop" });
    desktop = await connectTestXmpp({ service: prosody.service, jid: agent, password: AGENT_PASSWORD, resource: "desktop" });
    agentQueueUrl = await subscribeQueue(t, "agent-queue");
  });
  after(async () => {
    await laptop?.stop();
    await desktop?.stop();
    await t?.stop();
    await prosody?.destroy();
  });

  it("a ref written to the bucket reaches both resources as a headline; the secret is read once for several invocations", async () => {
    for (const branch of ["main", "feature"]) {
      await t.s3.send(
        new PutObjectCommand({ Bucket: t.cloud.bucket, Key: `repos/notes.git/refs/heads/${branch}`, Body: `${"a".repeat(40)}\n` }),
      );
      for (const resource of [laptop, desktop]) {
        const message = await resource.waitFor(
          headlineFor((c) => c.repo === "notes" && c.kind === "refs" && c.ref === `refs/heads/${branch}`),
        );
        assert.equal(payloadOf(message)?.bucket, t.cloud.bucket);
      }
    }
    await xmppEventsDone(t);
    assert.equal(t.cloud.secrets.reads, 1, "credentials are cached across invocations");
  });

  it("with the XMPP server down, the agents' queue still gets the change and the XMPP event lands in the dead-letter queue", async () => {
    await prosody.stop();
    try {
      await t.s3.send(
        new PutObjectCommand({ Bucket: t.cloud.bucket, Key: "repos/notes.git/refs/heads/offline", Body: `${"b".repeat(40)}\n` }),
      );
      const change = await receiveChange(t.sqs, agentQueueUrl, (c) => c.kind === "refs" && c.ref === "refs/heads/offline");
      assert.equal(change.repo, "notes");
      const dead = await receiveUntil(t.sqs, t.cloud.xmpp!.deadLetterQueueUrl, () => true, 20_000);
      const envelope = JSON.parse(dead) as { Message: string };
      const deadChange = decodeChangeMessage(envelope.Message);
      assert.ok(deadChange.kind === "refs" && deadChange.ref === "refs/heads/offline", JSON.stringify(deadChange));
    } finally {
      await prosody.start();
    }
  });
});

/** Waits until the XMPP function has finished with every event (its event queue is empty). */
async function xmppEventsDone(t: TestCloud): Promise<void> {
  await t.cloud.settle();
  const deadline = Date.now() + 10_000;
  for (;;) {
    const { Attributes } = await t.sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: t.cloud.xmpp!.queueUrl,
        AttributeNames: ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
      }),
    );
    if (Number(Attributes?.ApproximateNumberOfMessages) + Number(Attributes?.ApproximateNumberOfMessagesNotVisible) === 0) return;
    if (Date.now() > deadline) throw new Error("the XMPP function did not finish its events within 10 s");
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function receiveUntil(sqs: SQSClient, QueueUrl: string, match: (body: string) => boolean, timeoutMs = 10_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const { Messages } = await sqs.send(new ReceiveMessageCommand({ QueueUrl, WaitTimeSeconds: 1, MaxNumberOfMessages: 10 }));
    const found = Messages?.find((m) => match(m.Body ?? ""));
    if (found) return found.Body!;
  }
  throw new Error(`no matching message in ${QueueUrl} within ${timeoutMs} ms`);
}

async function receiveChange(sqs: SQSClient, QueueUrl: string, match: (change: ChangeMessage) => boolean): Promise<ChangeMessage> {
  const body = await receiveUntil(sqs, QueueUrl, (b) => match(decodeChangeMessage(b)));
  return decodeChangeMessage(body);
}

describe("cloudbridge local --xmpp-*: the command", () => {
  let prosody: TestProsody;
  before(async () => (prosody = await startProsody()));
  after(async () => prosody?.destroy());

  const cli = (args: string[], env: Record<string, string> = {}) =>
    spawn(process.execPath, ["--disable-warning=ExperimentalWarning", "agent/cli/main.ts", "local", "--port", "0", ...args], {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, ...env },
    });

  it("sends a headline for a ref written to its bucket, with the notifier's password taken from the environment", async () => {
    const agent = await prosody.register("agent", AGENT_PASSWORD);
    const notifier = await prosody.register("notifier", NOTIFIER_PASSWORD);
    const phone = await connectTestXmpp({ service: prosody.service, jid: agent, password: AGENT_PASSWORD, resource: "phone" });
    const child = cli(["--json", "--xmpp-service", prosody.service, "--xmpp-jid", notifier, "--xmpp-to", agent], {
      CLOUDBRIDGE_XMPP_PASSWORD: NOTIFIER_PASSWORD,
    });
    try {
      const line = await new Promise<string>((resolve, reject) => {
        let out = "";
        const timer = setTimeout(() => reject(new Error(`no JSON line after 15 s: ${out}`)), 15_000);
        child.stdout.on("data", (chunk: Buffer) => {
          out += chunk.toString();
          if (!out.includes("\n")) return;
          clearTimeout(timer);
          resolve(out.split("\n")[0]!);
        });
      });
      const { endpoint, bucket, env } = JSON.parse(line) as { endpoint: string; bucket: string; env: Record<string, string> };
      assert.ok(!line.includes(NOTIFIER_PASSWORD), "the password is not printed");
      const s3 = new S3Client({
        region: env.AWS_REGION!,
        endpoint,
        forcePathStyle: true,
        credentials: { accessKeyId: env.AWS_ACCESS_KEY_ID!, secretAccessKey: env.AWS_SECRET_ACCESS_KEY! },
      });
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: "repos/cli.git/refs/heads/main", Body: `${"c".repeat(40)}\n` }));
      s3.destroy();
      const message = await phone.waitFor(headlineFor((c) => c.repo === "cli"));
      assert.equal(message.attrs.from?.split("/")[0], notifier);
    } finally {
      child.kill("SIGINT");
      await new Promise((resolve) => child.on("exit", resolve));
      await phone.stop();
    }
  });

  it("refuses half an XMPP configuration, or one without the password, with usage exit code 2", async () => {
    for (const [args, env] of [
      [["--xmpp-service", prosody.service], { CLOUDBRIDGE_XMPP_PASSWORD: "x" }],
      [["--xmpp-service", prosody.service, "--xmpp-jid", "n@localhost", "--xmpp-to", "a@localhost"], { CLOUDBRIDGE_XMPP_PASSWORD: "" }],
    ] as const) {
      const child = cli([...args], env);
      let err = "";
      child.stderr.on("data", (chunk: Buffer) => (err += chunk.toString()));
      const code = await new Promise((resolve) => child.on("exit", resolve));
      assert.equal(code, 2, err);
      assert.match(
        err,
        /XMPP notifications need --xmpp-service, --xmpp-jid and --xmpp-to, and the notifier's password in CLOUDBRIDGE_XMPP_PASSWORD/,
      );
    }
  });
});
