import { resolve } from "node:path";
import { readOnboarding } from "../../onboard/from-stack.ts";
import { writeInvite } from "../../onboard/invite.ts";
import { CliError } from "../errors.ts";
import { emit } from "../output.ts";

/** Expiry as "30m", "24h", "7d" (or seconds). */
function parseExpiry(text: string): number {
  const match = /^(\d+)\s*(s|m|h|d)?$/.exec(text.trim());
  if (!match) throw new CliError("invalid-option", `--expires ${JSON.stringify(text)}: write a duration such as 30m, 24h or 7d.`);
  return Number(match[1]) * { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[(match[2] ?? "s") as "s" | "m" | "h" | "d"];
}

export async function inviteCommand(options: {
  stack: string;
  agent: string;
  repo: string;
  out?: string;
  expires: string;
  xmppJid?: string;
  endpoint?: string;
  json?: boolean;
}): Promise<void> {
  const expiresInMs = parseExpiry(options.expires);
  const onboarding = await readOnboarding({
    stack: options.stack,
    agent: options.agent,
    repo: options.repo,
    ...(options.endpoint ? { endpoint: options.endpoint } : {}),
    ...(options.xmppJid ? { xmppJid: options.xmppJid } : {}),
    ...(process.env.CLOUDBRIDGE_XMPP_PASSWORD ? { xmppPassword: process.env.CLOUDBRIDGE_XMPP_PASSWORD } : {}),
  });
  const path = resolve(options.out ?? `cloudbridge-invite-${options.stack}-${options.agent}-${onboarding.repo}.json`);
  const invite = await writeInvite(path, onboarding, { expiresInMs });
  // The file holds the agent's key: its path and expiry are printed, never its content.
  emit(options.json, { invite: path, agent: options.agent, repo: onboarding.repo, expiresAt: invite.expiresAt }, () =>
    [
      `Wrote ${path} (mode 0600): it holds agent ${options.agent}'s key. Hand it over by a safe channel; it works once, until ${invite.expiresAt}.`,
      `On the machine:  cloudbridge init DIR --invite FILE   (first machine of ${onboarding.repo})`,
      `             or: cloudbridge clone --invite FILE DIR`,
    ].join("\n"),
  );
}
