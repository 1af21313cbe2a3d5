import { client, xml, type Client, type Element } from "@xmpp/client";
import {
  changeFromXmppAttributes,
  type ChangeMessage,
  chooseSaslMechanism,
  type RemoteLocation,
  splitJid,
  XMPP_CHANGE_ELEMENT,
  XMPP_CHANGE_NAMESPACE,
} from "../../protocol/index.ts";
import { Backoff, RETRY_BASE_MS } from "../backoff.ts";
import { isRelevant, type ChangeListener } from "./listener.ts";

/**
 * A persistent XMPP connection (@xmpp/client, which reconnects by itself) that hears the change
 * function's headlines: `<message type="headline"><changed xmlns="urn:cloudbridge:1" …/></message>`.
 * The agent logs in with its own account and a resource of its own id, and sends presence so messages
 * to the bare JID reach it. The login mechanism is protocol/xmpp-sasl.ts's choice: PLAIN over TLS or on
 * loopback (SCRAM costs 1.4–2 s of CPU in JavaScript per login), SCRAM otherwise. Coming back online is itself a hint, since messages sent while the
 * connection was down are lost.
 */
export interface XmppListenerOptions {
  service: string;
  jid: string;
  password: string;
  agent: string;
  location: RemoteLocation;
  onError?: (error: unknown) => void;
  onStatus?: (status: string) => void;
}

export class XmppListener implements ChangeListener {
  readonly kind = "xmpp" as const;
  readonly requests = 0;
  private readonly options: XmppListenerOptions;
  private xmpp: Client | undefined;

  constructor(options: XmppListenerOptions) {
    this.options = options;
  }

  async start(onHint: (message: ChangeMessage | undefined) => void): Promise<void> {
    const { local: username, domain } = splitJid(this.options.jid);
    const xmpp = client({
      service: this.options.service,
      domain,
      resource: `cloudbridge-${this.options.agent}`,
      credentials: (authenticate, mechanisms) => {
        const mechanism = chooseSaslMechanism({
          secure: xmpp.isSecure(),
          host: new URL(this.options.service).hostname,
          offered: mechanisms,
        });
        if (!mechanism) {
          return Promise.reject(
            new Error(`the XMPP server offers no login this agent accepts (${mechanisms.join(", ")}): use TLS (xmpps://) or SCRAM-SHA-1`),
          );
        }
        return authenticate({ username, password: this.options.password }, mechanism);
      },
    });
    this.xmpp = xmpp;
    let first = true;
    // A server that stays down is tried again after a wait that grows (1 s doubling to 10 s), not every second.
    const reconnectWait = new Backoff();
    xmpp.on("error", (error) => {
      xmpp.reconnect.delay = reconnectWait.next();
      this.options.onError?.(error);
    });
    xmpp.on("status", (status) => this.options.onStatus?.(String(status)));
    xmpp.on("online", () => {
      reconnectWait.reset();
      xmpp.reconnect.delay = RETRY_BASE_MS;
      void xmpp.send(xml("presence", null, xml("priority", null, "1"))).catch((error: unknown) => this.options.onError?.(error));
      if (!first) onHint(undefined);
      first = false;
    });
    xmpp.on("stanza", (stanza: Element) => {
      if (!stanza.is("message")) return;
      const changed = stanza.getChild(XMPP_CHANGE_ELEMENT, XMPP_CHANGE_NAMESPACE);
      if (!changed) return;
      try {
        const message = changeFromXmppAttributes(changed.attrs);
        if (isRelevant(message, this.options.location, this.options.agent)) onHint(message);
      } catch (error) {
        this.options.onError?.(error);
      }
    });
    await xmpp.start();
  }

  async stop(): Promise<void> {
    const xmpp = this.xmpp;
    this.xmpp = undefined;
    if (!xmpp) return;
    xmpp.reconnect.stop();
    await xmpp.stop().catch(() => undefined);
  }
}
