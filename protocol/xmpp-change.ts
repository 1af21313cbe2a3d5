import { validateChangeMessage, type ChangeMessage } from "./change-message.ts";

/**
 * The change message as an XMPP payload: `<changed xmlns="urn:cloudbridge:1" v="1" repo="…" kind="refs" …/>`,
 * one attribute per field of the change message (docs/architecture.md, "Notifications"). The XMPP function writes it
 * into a headline; the agent's XMPP listener reads it back. Pure: the XML element itself is built and
 * parsed by the XMPP library on each side, this module owns only the names and the values.
 */
export const XMPP_CHANGE_NAMESPACE = "urn:cloudbridge:1";
export const XMPP_CHANGE_ELEMENT = "changed";

/** The attributes of the `<changed/>` element for a message (every value a string, as XML wants). */
export function changeToXmppAttributes(message: ChangeMessage): Record<string, string> {
  const valid = validateChangeMessage(message);
  const attributes: Record<string, string> = { xmlns: XMPP_CHANGE_NAMESPACE };
  for (const [name, value] of Object.entries(valid)) {
    if (value !== undefined) attributes[name] = String(value);
  }
  return attributes;
}

/** The change message a `<changed/>` element's attributes carry; throws ProtocolError when they are not one. */
export function changeFromXmppAttributes(attributes: Readonly<Record<string, string | undefined>>): ChangeMessage {
  const { xmlns: _xmlns, v, size, ...rest } = attributes;
  const fields: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(rest)) if (value !== undefined) fields[name] = value;
  return validateChangeMessage({
    ...fields,
    v: v === undefined ? undefined : Number(v),
    ...(size !== undefined ? { size: /^\d+$/.test(size) ? Number(size) : size } : {}),
  });
}

/** A one-line text for people whose XMPP client shows the headline's body. */
export function changeSummary(message: ChangeMessage): string {
  const what = message.kind === "refs" ? (message.ref ?? "refs") : `content ${message.key}`;
  return `cloudbridge: ${message.repo} ${what} changed${message.by ? ` by ${message.by}` : ""}`;
}
