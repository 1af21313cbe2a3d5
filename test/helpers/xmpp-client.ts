import { client, xml, type Client, type Element } from "@xmpp/client";

/**
 * An XMPP client for tests, logged in as `jid` with one resource and online (presence sent), collecting
 * every message stanza it receives. PLAIN auth: for the loopback prosody of test/helpers/prosody.ts only.
 */
export interface TestXmppClient {
  readonly client: Client;
  readonly messages: Element[];
  /** Resolves with the first message (already received or still to come) that `match` accepts. */
  waitFor(match: (message: Element) => boolean, timeoutMs?: number): Promise<Element>;
  stop(): Promise<void>;
}

export async function connectTestXmpp(options: {
  service: string;
  jid: string;
  password: string;
  resource: string;
}): Promise<TestXmppClient> {
  const [local, domain] = options.jid.split("@") as [string, string];
  const xmpp = client({
    service: options.service,
    domain,
    resource: options.resource,
    credentials: (authenticate) => authenticate({ username: local, password: options.password }, "PLAIN"),
  });
  xmpp.reconnect.stop();
  const messages: Element[] = [];
  const waiters = new Set<{ match: (m: Element) => boolean; resolve: (m: Element) => void }>();
  xmpp.on("error", () => {});
  xmpp.on("stanza", (stanza) => {
    if (!stanza.is("message")) return;
    messages.push(stanza);
    for (const waiter of waiters) {
      if (waiter.match(stanza)) {
        waiters.delete(waiter);
        waiter.resolve(stanza);
      }
    }
  });
  await xmpp.start();
  // Online with presence, so messages to the bare JID reach this resource.
  await xmpp.send(xml("presence"));
  return {
    client: xmpp,
    messages,
    waitFor: (match, timeoutMs = 10_000) => {
      const seen = messages.find(match);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const waiter = {
          match,
          resolve: (m: Element) => {
            clearTimeout(timer);
            resolve(m);
          },
        };
        const timer = setTimeout(() => {
          waiters.delete(waiter);
          reject(new Error(`no matching message for ${options.jid}/${options.resource} within ${timeoutMs} ms (got ${messages.length})`));
        }, timeoutMs);
        waiters.add(waiter);
      });
    },
    stop: async () => {
      await xmpp.stop().catch(() => {});
    },
  };
}
