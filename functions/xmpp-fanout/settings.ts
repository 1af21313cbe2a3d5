import { z } from "zod";
import { assertJid } from "../../protocol/jid.ts";

/** What the stack passes to the XMPP function in its environment (never the password: that is in the secret). */
export interface XmppSettings {
  /** `xmpps://host:5223` (direct TLS) or `xmpp://host:5222` (STARTTLS when the server offers it). */
  readonly service: string;
  /** The XMPP domain, when it differs from the service's host name. */
  readonly domain: string | undefined;
  /** Who hears of changes: bare JIDs (every resource that sent presence) or full JIDs. */
  readonly recipients: readonly string[];
  /** Secrets Manager id (ARN or name) of the notifier account's credentials. */
  readonly secretId: string;
  readonly timeoutMs: number;
}

const jid = z.string().refine((value) => {
  try {
    return assertJid(value) === value;
  } catch {
    return false;
  }
}, "is not an XMPP address (user@domain)");

const envSchema = z.object({
  XMPP_SERVICE: z.string().regex(/^xmpps?:\/\/[^\s/]+$/, "must be xmpps://host[:port] or xmpp://host[:port]"),
  XMPP_DOMAIN: z.string().min(1).optional(),
  XMPP_RECIPIENTS: z
    .string()
    .transform((text) =>
      text
        .split(",")
        .map((part) => part.trim())
        .filter(Boolean),
    )
    .pipe(z.array(jid).min(1, "names no recipient")),
  XMPP_SECRET_ID: z.string().min(1, "is empty"),
  XMPP_TIMEOUT_MS: z.coerce.number().int().min(100).max(60_000).default(5_000),
});

export function xmppSettingsFromEnv(env: Readonly<Record<string, string | undefined>>): XmppSettings {
  const result = envSchema.safeParse(env);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => `${issue.path.join(".")} ${issue.message}`).join("; ");
    throw new Error(`The XMPP function is misconfigured (${problems}): the stack sets these variables from its xmpp settings.`);
  }
  const { XMPP_SERVICE, XMPP_DOMAIN, XMPP_RECIPIENTS, XMPP_SECRET_ID, XMPP_TIMEOUT_MS } = result.data;
  return {
    service: XMPP_SERVICE,
    domain: XMPP_DOMAIN,
    recipients: XMPP_RECIPIENTS,
    secretId: XMPP_SECRET_ID,
    timeoutMs: XMPP_TIMEOUT_MS,
  };
}
