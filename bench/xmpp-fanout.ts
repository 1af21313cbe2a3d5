/**
 * What one XMPP notification costs, on this machine, against a real prosody on loopback:
 * - a login with PLAIN vs SCRAM-SHA-1 (why the function uses PLAIN, and only over TLS or loopback);
 * - one XMPP function invocation (login, headline, ping round trip, close), as the handler runs it;
 * - end to end in `cloudbridge local`: S3 PUT of a ref → change function → SNS → XMPP function → the
 *   headline at an agent's resource.
 * Prints median and 95th percentile of each. Run: `npm run bench:xmpp` (BENCH_ROUNDS, default 20).
 */
import { PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { client } from "@xmpp/client";
import { sendChangeHeadlines } from "../functions/xmpp-fanout/notify.ts";
import { xmppStanzaSender } from "../functions/xmpp-fanout/sender.ts";
import { LOCAL_CREDENTIALS, startLocalCloud } from "../local/cloud.ts";
import { encodeChangeMessage } from "../protocol/change-message.ts";
import { changeFromXmppAttributes, XMPP_CHANGE_NAMESPACE } from "../protocol/xmpp-change.ts";
import { startProsody } from "../test/helpers/prosody.ts";
import { snsRecord } from "../test/helpers/sns-records.ts";
import { connectTestXmpp } from "../test/helpers/xmpp-client.ts";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 20);

function report(label: string, samples: number[]): number {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
  console.log(`${label.padEnd(58)} median ${at(0.5).toFixed(1).padStart(7)} ms   p95 ${at(0.95).toFixed(1).padStart(7)} ms`);
  return at(0.5);
}

async function time(rounds: number, op: (i: number) => Promise<unknown>): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const started = performance.now();
    await op(i);
    samples.push(performance.now() - started);
  }
  return samples;
}

const prosody = await startProsody();
try {
  const agent = await prosody.register("agent", "agent-password");
  const notifier = await prosody.register("notifier", "notifier-password");
  console.log(`prosody on ${prosody.service}; Node ${process.version}; ${ROUNDS} rounds per line`);

  const login = (mechanism: string) => async () => {
    const xmpp = client({
      service: prosody.service,
      domain: prosody.domain,
      resource: "bench",
      credentials: (authenticate) => authenticate({ username: "notifier", password: "notifier-password" }, mechanism),
    });
    xmpp.reconnect.stop();
    xmpp.on("error", () => {});
    await xmpp.start();
    await xmpp.stop();
  };
  const plain = report("login, PLAIN", await time(ROUNDS, login("PLAIN")));
  const scram = report("login, SCRAM-SHA-1", await time(Math.min(ROUNDS, 10), login("SCRAM-SHA-1")));
  console.log(`${"  SCRAM-SHA-1 / PLAIN".padEnd(58)} ${(scram / plain).toFixed(1)}x`);

  const laptop = await connectTestXmpp({ service: prosody.service, jid: agent, password: "agent-password", resource: "laptop" });
  const send = xmppStanzaSender({
    service: prosody.service,
    credentials: { jid: notifier, password: "notifier-password" },
    timeoutMs: 10_000,
  });
  const logger = { info: () => {}, warn: () => {}, error: () => {} };
  const invoke = async (i: number) => {
    const message = {
      v: 1 as const,
      bucket: "bench",
      repo: "notes",
      kind: "refs" as const,
      ref: `refs/heads/b${i}`,
      at: new Date().toISOString(),
    };
    await sendChangeHeadlines({ Records: [snsRecord(encodeChangeMessage(message))] }, { recipients: [agent], send, logger });
    await laptop.waitFor((m) => m.getChild("changed", XMPP_CHANGE_NAMESPACE)?.attrs.ref === message.ref);
  };
  report("XMPP function invocation (login, headline, ping, close)", await time(ROUNDS, invoke));
  await laptop.stop();

  const cloud = await startLocalCloud({
    port: 0,
    xmpp: { service: prosody.service, recipients: [agent], jid: notifier, password: "notifier-password" },
  });
  const s3 = new S3Client({ region: cloud.region, endpoint: cloud.endpoint, forcePathStyle: true, credentials: LOCAL_CREDENTIALS });
  const desktop = await connectTestXmpp({ service: prosody.service, jid: agent, password: "agent-password", resource: "desktop" });
  try {
    const endToEnd = async (i: number) => {
      const ref = `refs/heads/e${i}`;
      await s3.send(new PutObjectCommand({ Bucket: cloud.bucket, Key: `repos/notes.git/${ref}`, Body: `${"a".repeat(40)}\n` }));
      await desktop.waitFor((m) => {
        const changed = m.getChild("changed", XMPP_CHANGE_NAMESPACE);
        return changed !== undefined && changeFromXmppAttributes(changed.attrs).kind === "refs" && changed.attrs.ref === ref;
      });
    };
    await endToEnd(-1); // cold start of both functions, not counted
    report("cloudbridge local: S3 PUT of a ref → headline at the agent", await time(ROUNDS, endToEnd));
  } finally {
    await desktop.stop();
    s3.destroy();
    await cloud.stop();
  }
} finally {
  await prosody.destroy();
}
