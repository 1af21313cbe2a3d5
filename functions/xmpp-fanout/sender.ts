import { randomUUID } from "node:crypto";
import { client, xml, type Client, type Element } from "@xmpp/client";
import { chooseSaslMechanism, splitJid } from "../../protocol/index.ts";
import { FunctionError } from "../common/errors.ts";
import type { XmppCredentials } from "./credentials.ts";

/** Sends stanzas over one XMPP session; resolves once the server has taken every one of them. */
export type SendStanzas = (stanzas: Element[]) => Promise<void>;

/** The server refused the notifier's credentials (as opposed to being unreachable). */
export class XmppAuthError extends FunctionError {
  constructor(jid: string, reason: string) {
    super("xmpp-login-refused", `The XMPP server refused the login of ${jid} (${reason}): check the jid and password in the XMPP secret.`);
  }
}

/**
 * One short session per invocation: connect, authenticate, send, confirm with a ping round trip (the
 * server answers it only after it has routed every stanza sent before it), close. A Lambda container is
 * frozen between invocations, so a session kept open would be dead by the next one anyway.
 * SASL as `chooseSaslMechanism` says.
 */
export function xmppStanzaSender(options: {
  service: string;
  domain?: string | undefined;
  credentials: XmppCredentials;
  timeoutMs: number;
}): SendStanzas {
  return async (stanzas) => {
    const { local, domain } = splitJid(options.credentials.jid);
    const host = new URL(options.service.replace(/^xmpps?:/, "http:")).hostname;
    const xmpp: Client = client({
      service: options.service,
      domain: options.domain ?? domain,
      // A fresh resource per session, so concurrent invocations never kick each other off.
      resource: `cloudbridge-notifier-${randomUUID().slice(0, 8)}`,
      timeout: options.timeoutMs,
      credentials: async (authenticate, mechanisms) => {
        const secure = xmpp.isSecure();
        const mechanism = chooseSaslMechanism({ secure, host, offered: mechanisms });
        if (!mechanism) {
          const where = secure ? "" : " on an unencrypted connection; use xmpps:// or enable STARTTLS on the server";
          throw new XmppAuthError(options.credentials.jid, `the server offers ${mechanisms.join(", ") || "no mechanism"}${where}`);
        }
        await authenticate({ username: local, password: options.credentials.password }, mechanism);
      },
    });
    xmpp.reconnect.stop();
    const errors: Error[] = [];
    xmpp.on("error", (error) => errors.push(error));
    try {
      await withTimeout(xmpp.start(), options.timeoutMs, `connecting to ${options.service}`);
    } catch (error) {
      await xmpp.stop().catch(() => {});
      const condition = (error as { condition?: string }).condition;
      if (condition === "not-authorized" || error instanceof XmppAuthError) {
        throw error instanceof XmppAuthError ? error : new XmppAuthError(options.credentials.jid, "not-authorized");
      }
      throw new FunctionError("xmpp-unreachable", `Could not reach the XMPP server ${options.service}: ${(error as Error).message}`, {
        cause: error,
      });
    }
    try {
      // Connection.send takes one element (extra arguments are ignored): send each stanza.
      for (const stanza of stanzas) await xmpp.send(stanza);
      await withTimeout(
        xmpp.iqCaller.request(xml("iq", { type: "get", to: options.domain ?? domain }, xml("ping", { xmlns: "urn:xmpp:ping" }))),
        options.timeoutMs,
        "waiting for the server to take the messages",
      );
    } finally {
      await xmpp.stop().catch(() => {});
    }
    if (errors.length > 0 && errors.some((e) => (e as { condition?: string }).condition === "not-authorized")) {
      throw new XmppAuthError(options.credentials.jid, "not-authorized");
    }
  };
}

async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new FunctionError("xmpp-timeout", `timed out after ${ms} ms ${what}`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
