import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { after, before, describe, it } from "node:test";
import tls from "node:tls";
import type { Element } from "@xmpp/client";
import { sendChangeHeadlines } from "../../../functions/xmpp-fanout/notify.ts";
import { XmppAuthError, xmppStanzaSender } from "../../../functions/xmpp-fanout/sender.ts";
import { encodeChangeMessage, type ChangeMessage } from "../../../protocol/change-message.ts";
import { changeFromXmppAttributes, XMPP_CHANGE_NAMESPACE } from "../../../protocol/xmpp-change.ts";
import { startProsody, type TestProsody } from "../../helpers/prosody.ts";
import { snsRecord } from "../../helpers/sns-records.ts";
import { connectTestXmpp, type TestXmppClient } from "../../helpers/xmpp-client.ts";

/**
 * The production path of the XMPP function: a server that requires TLS and offers only PLAIN, reached at
 * an address the function does not treat as loopback (127.0.0.2), so PLAIN is allowed only because the
 * stream is encrypted. And the refusal: the same server without TLS gets no password at all.
 */
const PASSWORD = "tls-Pa55word";
const logger = { info: () => {}, warn: () => {}, error: () => {} };
const change = (ref: string): ChangeMessage => ({
  v: 1,
  bucket: "cloudbridge",
  repo: "secure",
  kind: "refs",
  ref,
  at: new Date().toISOString(),
});
const headline = (ref: string) => (message: Element) => {
  const changed = message.getChild("changed", XMPP_CHANGE_NAMESPACE);
  return (
    message.attrs.type === "headline" &&
    changed !== undefined &&
    changeFromXmppAttributes(changed.attrs).repo === "secure" &&
    changed.attrs.ref === ref
  );
};

describe("XMPP fan-out over TLS to a server that offers only PLAIN", () => {
  let prosody: TestProsody;
  let receiver: TestXmppClient;
  let agent: string;
  let notifier: string;
  const defaultCAs = tls.getCACertificates("default");

  before(async () => {
    prosody = await startProsody({ tls: true, disableMechanisms: ["SCRAM-SHA-1"], interfaces: ["127.0.0.1", "127.0.0.2"] });
    // Trust the server's self-signed certificate, as NODE_EXTRA_CA_CERTS would.
    tls.setDefaultCACertificates([...defaultCAs, await readFile(prosody.caFile!, "utf8")]);
    agent = await prosody.register("agent", PASSWORD);
    notifier = await prosody.register("notifier", PASSWORD);
    receiver = await connectTestXmpp({ service: prosody.service, jid: agent, password: PASSWORD, resource: "laptop" });
  });
  after(async () => {
    await receiver?.stop();
    await prosody?.destroy();
    tls.setDefaultCACertificates(defaultCAs);
  });

  for (const [how, service] of [
    ["STARTTLS (xmpp://)", () => `xmpp://127.0.0.2:${prosody.port}`],
    ["direct TLS (xmpps://)", () => `xmpps://127.0.0.2:${prosody.tlsPort}`],
  ] as const) {
    it(`${how}: the notifier logs in with PLAIN over the encrypted stream and the headline arrives`, async () => {
      const ref = `refs/heads/${how.startsWith("STARTTLS") ? "starttls" : "direct"}`;
      const result = await sendChangeHeadlines(
        { Records: [snsRecord(encodeChangeMessage(change(ref)))] },
        {
          recipients: [agent],
          send: xmppStanzaSender({ service: service(), credentials: { jid: notifier, password: PASSWORD }, timeoutMs: 10_000 }),
          logger,
        },
      );
      assert.deepEqual(result, { sent: 1, skipped: 0 });
      await receiver.waitFor(headline(ref));
      assert.match(await prosody.log(), /Authenticated as notifier@localhost/);
    });
  }
});

describe("XMPP fan-out to a server that offers only PLAIN without TLS", () => {
  let prosody: TestProsody;
  before(async () => (prosody = await startProsody({ disableMechanisms: ["SCRAM-SHA-1"], interfaces: ["127.0.0.1", "127.0.0.2"] })));
  after(async () => prosody?.destroy());

  it("refuses to send the password in clear to a host that is not loopback, saying to use TLS", async () => {
    const notifier = await prosody.register("notifier", PASSWORD);
    const counts: Record<string, number> = {};
    await assert.rejects(
      sendChangeHeadlines(
        { Records: [snsRecord(encodeChangeMessage(change("refs/heads/clear")))] },
        {
          recipients: ["agent@localhost"],
          send: xmppStanzaSender({
            service: `xmpp://127.0.0.2:${prosody.port}`,
            credentials: { jid: notifier, password: PASSWORD },
            timeoutMs: 10_000,
          }),
          logger,
          count: (name, value) => void (counts[name] = (counts[name] ?? 0) + value),
        },
      ),
      (error: Error) => error instanceof XmppAuthError && /use xmpps:\/\/ or enable STARTTLS/.test(error.message),
    );
    assert.equal(counts.XmppFailures, 1);
    assert.doesNotMatch(await prosody.log(), /Authenticated as notifier/, "no login happened");
  });
});
