import { z } from "zod";
import { assertJid, checkedString, describeIssues } from "../../protocol/index.ts";
import { FunctionError } from "../common/errors.ts";

/**
 * The notifier account's credentials, as stored in Secrets Manager: `{"jid":"notifier@example.org","password":"…"}`.
 * Errors about the secret say which field is wrong and never include the secret's text.
 */
export interface XmppCredentials {
  readonly jid: string;
  readonly password: string;
}

const secretSchema = z.object({
  jid: checkedString(assertJid, "must be a bare XMPP address, user@domain").refine(
    (value) => !value.includes("/"),
    "must be a bare XMPP address, user@domain",
  ),
  password: z.string().min(1, "must not be empty"),
});

export function parseXmppSecret(text: string | undefined): XmppCredentials {
  if (!text)
    throw new FunctionError("invalid-xmpp-secret", 'The XMPP secret is empty: store {"jid":"notifier@example.org","password":"…"} in it.');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new FunctionError(
      "invalid-xmpp-secret",
      'The XMPP secret is not JSON: store {"jid":"notifier@example.org","password":"…"} in it.',
    );
  }
  const result = secretSchema.safeParse(value);
  if (!result.success) {
    const fields = describeIssues(result.error, "(secret)");
    throw new FunctionError("invalid-xmpp-secret", `The XMPP secret is not {"jid","password"}: ${fields}.`);
  }
  return result.data;
}

/**
 * Credentials fetched once and kept across warm invocations (one Secrets Manager call per container and
 * `ttlMs`, not per notification), refreshed when the TTL passes or after the server refused them, so a
 * rotated password is picked up without a redeploy.
 */
export interface CredentialCache {
  get(): Promise<XmppCredentials>;
  /** Forget the cached value (the server said the credentials are wrong). */
  invalidate(): void;
}

export function cachedCredentials(
  load: () => Promise<string | undefined>,
  options: { ttlMs?: number; now?: () => number } = {},
): CredentialCache {
  const ttlMs = options.ttlMs ?? 5 * 60_000;
  const now = options.now ?? Date.now;
  let cached: { value: Promise<XmppCredentials>; at: number } | undefined;
  return {
    get() {
      if (!cached || now() - cached.at >= ttlMs) {
        const value = load().then(parseXmppSecret);
        const entry = { value, at: now() };
        cached = entry;
        // A failed fetch is not cached: the next invocation tries again.
        value.catch(() => {
          if (cached === entry) cached = undefined;
        });
      }
      return cached.value;
    },
    invalidate() {
      cached = undefined;
    },
  };
}
