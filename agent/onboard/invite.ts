import { randomUUID } from "node:crypto";
import { open, readFile } from "node:fs/promises";
import { z } from "zod";
import { PreconditionFailed } from "../../objectstore/index.ts";
import { accessEndpoint, createS3Client, S3ObjectStore } from "../../objectstore/index.ts";
import {
  assertAgentId,
  assertBucketName,
  assertEndpointUrl,
  assertRepoName,
  checkedString,
  normalizePrefix,
} from "../../protocol/index.ts";
import { writePresence } from "../presence.ts";
import { OnboardError } from "./errors.ts";
import type { Onboarding } from "./from-stack.ts";

/**
 * An invite: what `readOnboarding` gathered with the administrator's credentials, in a file the
 * administrator hands to a machine that must never hold those credentials. It carries the agent's own key
 * (so it is written with mode 0600 and never printed), an expiry, and an agent id chosen in advance: the
 * machine claims that id by creating its presence record with If-None-Match: *, so a second use of the same
 * invite, on this machine or another, is refused by the bucket itself.
 */
export const INVITE_KIND = "cloudbridge-invite";
export const INVITE_VERSION = 1;

const inviteSchema = z.object({
  kind: z.literal(INVITE_KIND),
  v: z.literal(INVITE_VERSION),
  id: checkedString(assertAgentId, "is not an agent id"),
  createdAt: z.string(),
  expiresAt: z.string().refine((text) => !Number.isNaN(Date.parse(text)), "is not a date"),
  stack: z.string().min(1),
  agent: z.string().min(1),
  repo: checkedString(assertRepoName, "is not a repository name"),
  bucket: checkedString(assertBucketName, "is not a bucket name"),
  prefix: z.string(),
  region: z.string().min(1),
  endpoint: checkedString((url) => assertEndpointUrl(url, "the invite"), "is not an http(s) endpoint URL").optional(),
  queueUrl: z.string().min(1),
  keySecret: z.string().min(1),
  key: z.object({ accessKeyId: z.string().min(1), secretAccessKey: z.string().min(1) }),
  xmpp: z.object({ service: z.string(), jid: z.string().optional(), password: z.string().optional() }).optional(),
});

export type Invite = z.infer<typeof inviteSchema>;

/** Writes a new invite to `path` (never over an existing file), mode 0600. */
export async function writeInvite(path: string, onboarding: Onboarding, options: { expiresInMs: number; now?: Date }): Promise<Invite> {
  const now = options.now ?? new Date();
  const invite: Invite = {
    kind: INVITE_KIND,
    v: INVITE_VERSION,
    id: randomUUID(),
    createdAt: now.toISOString(),
    expiresAt: new Date(now.getTime() + options.expiresInMs).toISOString(),
    ...onboarding,
  };
  const handle = await open(path, "wx", 0o600);
  try {
    await handle.writeFile(`${JSON.stringify(invite, null, 2)}\n`);
    await handle.sync();
  } finally {
    await handle.close();
  }
  return invite;
}

/** Reads and checks an invite file: its shape and its expiry (the machine's clock). */
export async function readInvite(path: string, now = new Date()): Promise<Invite> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    throw new OnboardError("invalid-invite", `cannot read the invite ${path}: ${(error as Error).message}`, { cause: error });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new OnboardError("invalid-invite", `${path} is not a cloudbridge invite (not JSON): ask the administrator for a new one.`);
  }
  const result = inviteSchema.safeParse(parsed);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    throw new OnboardError(
      "invalid-invite",
      `${path} is not a usable cloudbridge invite (${issue.path.join(".") || "the file"} ${issue.message}): ask the administrator for a new one.`,
    );
  }
  const invite = result.data;
  if (Date.parse(invite.expiresAt) <= now.getTime()) {
    throw new OnboardError(
      "invite-expired",
      `the invite ${path} expired at ${invite.expiresAt}: ask the administrator for a new one (\`cloudbridge invite --stack ${invite.stack} --agent ${invite.agent} --repo ${invite.repo}\`).`,
    );
  }
  return { ...invite, prefix: normalizePrefix(invite.prefix) };
}

/** The onboarding an invite carries (its agent id becomes the folder's). */
export function onboardingOf(invite: Invite): Onboarding {
  const { kind: _kind, v: _v, id: _id, createdAt: _created, expiresAt: _expires, ...onboarding } = invite;
  return onboarding;
}

/**
 * Claims the invite with the agent's own key: its presence record, created only if there is none. A folder
 * that already has the invite's id (an interrupted clone run again) holds the claim already.
 */
export async function claimInvite(invite: Invite, description: string, ownerOfClaim: boolean): Promise<void> {
  const location = { bucket: invite.bucket, prefix: invite.prefix, repo: invite.repo };
  // The invite's key itself, whatever the profile holds.
  const store = new S3ObjectStore(
    invite.bucket,
    createS3Client({ ...(invite.endpoint ? { endpoint: invite.endpoint } : {}), region: invite.region, credentials: invite.key }),
    accessEndpoint({ endpoint: invite.endpoint }),
  );
  try {
    const now = new Date().toISOString();
    await writePresence(
      store,
      location,
      { agent: invite.id, description, listen: "none", state: "stopped", startedAt: now },
      { create: true },
    );
  } catch (error) {
    if (error instanceof PreconditionFailed && ownerOfClaim) return;
    if (error instanceof PreconditionFailed) {
      throw new OnboardError(
        "invite-used",
        `this invite was already used (agent ${invite.id} has joined ${invite.repo}): an invite onboards one folder once; ask the administrator for a new one.`,
      );
    }
    throw error;
  } finally {
    store.destroy();
  }
}
