import { ProtocolError, quote } from "./errors.ts";

/**
 * XMPP addresses as the stack's configuration and the XMPP function accept them: `local@domain` or
 * `local@domain/resource` (RFC 7622, restricted to what a person types: no spaces, no second "@").
 */
// eslint-disable-next-line no-control-regex -- a resource may hold spaces, never control characters
const JID = /^[^\s\x00-\x1f\x7f@/"'<>&]{1,1023}@[A-Za-z0-9.-]{1,1023}(?:\/[^\x00-\x1f\x7f]{1,1023})?$/;

export function assertJid(jid: string): string {
  if (typeof jid !== "string" || !JID.test(jid)) {
    throw new ProtocolError(
      "invalid-jid",
      `${quote(String(jid))} is not an XMPP address: write it as user@domain (or user@domain/resource).`,
      jid,
    );
  }
  return jid;
}

/** `user@domain/resource` → { local: "user", domain: "domain", resource: "resource" }. */
export function splitJid(jid: string): { local: string; domain: string; resource: string | undefined } {
  assertJid(jid);
  const at = jid.indexOf("@");
  const slash = jid.indexOf("/", at);
  return {
    local: jid.slice(0, at),
    domain: slash < 0 ? jid.slice(at + 1) : jid.slice(at + 1, slash),
    resource: slash < 0 ? undefined : jid.slice(slash + 1),
  };
}
