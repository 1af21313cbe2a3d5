import { z } from "zod";
import { assertAnnexKey } from "./annex-key.ts";
import { ProtocolError } from "./errors.ts";
import { assertAgentId, assertRefName, assertRepoName, normalizePrefix } from "./names.ts";
import { builtOnFirstUse, checkedString, describeIssues } from "./zod.ts";

/**
 * The change notification, version 1: what the change function publishes to SNS for each object
 * created under a repository's refs or a repository's annex, and what every listener (SQS, XMPP) parses.
 * A notification is a hint: receivers re-read the bucket, so the message carries only what a receiver
 * needs to decide whether to look (which repo, what kind of change, who made it, the new ETag).
 */
export const CHANGE_MESSAGE_VERSION = 1;

const changeMessageSchema = builtOnFirstUse(() => {
  const base = {
    v: z.literal(CHANGE_MESSAGE_VERSION),
    bucket: z.string().min(3).max(63),
    /** The deployment prefix ("" or ending in "/"), so one topic can serve several prefixes. */
    prefix: checkedString(normalizePrefix, "not a normalized prefix").optional(),
    repo: checkedString(assertRepoName, "not a valid repository name"),
    etag: z.string().max(80).optional(),
    size: z.number().int().nonnegative().optional(),
    /** The agent that made the change, when the key says so (an agent's synced ref). */
    by: checkedString(assertAgentId, "not an agent id").optional(),
    /** When S3 saw the change (ISO 8601). */
    at: z.iso.datetime({ offset: true }),
    /** S3's per-key ordering token: a larger sequencer for the same key is a later write. */
    seq: z.string().max(64).optional(),
  };
  return z.discriminatedUnion("kind", [
    // No `ref`: the refs index moved (format 3 keeps every ref in one object), so one or more refs did.
    z.strictObject({ ...base, kind: z.literal("refs"), ref: checkedString(assertRefName, "not a ref name").optional() }),
    z.strictObject({ ...base, kind: z.literal("content"), key: checkedString(assertAnnexKey, "not an annex key") }),
  ]);
});

export type ChangeMessage = z.infer<ReturnType<typeof changeMessageSchema>>;

/** Validates a message object (as built by a producer or decoded by a consumer). */
export function validateChangeMessage(value: unknown): ChangeMessage {
  const result = changeMessageSchema().safeParse(value);
  if (!result.success) {
    const issues = describeIssues(result.error, "(message)", ": ");
    throw new ProtocolError("invalid-message", `Not a cloudbridge change message v${CHANGE_MESSAGE_VERSION}: ${issues}.`, value);
  }
  return result.data;
}

export function encodeChangeMessage(message: ChangeMessage): string {
  return JSON.stringify(validateChangeMessage(message));
}

/** Parses the JSON body of an SNS or SQS message. Unknown future versions are reported as such. */
export function decodeChangeMessage(body: string): ChangeMessage {
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    throw new ProtocolError("invalid-message", "The change message is not JSON.", body);
  }
  if (typeof value === "object" && value !== null && "v" in value && value.v !== CHANGE_MESSAGE_VERSION) {
    throw new ProtocolError(
      "invalid-message",
      `The change message has version ${JSON.stringify(value.v)}; this cloudbridge understands version ${CHANGE_MESSAGE_VERSION}: upgrade the agent.`,
      body,
    );
  }
  return validateChangeMessage(value);
}
