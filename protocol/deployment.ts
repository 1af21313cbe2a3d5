import { z } from "zod";
import { ProtocolError } from "./errors.ts";
import { assertJid } from "./jid.ts";
import type { BucketLayout } from "./layout.ts";
import { builtOnFirstUse, checkedString, describeIssues } from "./zod.ts";

/**
 * The deployment contract: which functions there are, what each reads from its environment, and which
 * bucket events feed which function. The CDK stack (cdk/) and the cloud on one machine (local/) write it;
 * the handlers (functions/) read it. Writer and parser of each environment sit side by side, so a name
 * cannot drift between the three.
 */

/** Each function's name as Powertools logs and counts it (POWERTOOLS_SERVICE_NAME). */
export const FUNCTION_SERVICE_NAME = {
  changeFanout: "cloudbridge-change-fanout",
  compaction: "cloudbridge-compaction",
  xmppFanout: "cloudbridge-xmpp-fanout",
} as const;

export type DeployedFunction = keyof typeof FUNCTION_SERVICE_NAME;

/** Where a function is told its own service name (Powertools reads it from here). */
export const SERVICE_NAME_VARIABLE = "POWERTOOLS_SERVICE_NAME";

type Env = Readonly<Record<string, string | undefined>>;

function parseEnvironment<T extends z.ZodType>(fn: DeployedFunction, schema: () => T, env: Env, fix: string): z.output<T> {
  const result = schema().safeParse(env);
  if (!result.success) {
    throw new ProtocolError(
      "invalid-function-environment",
      `The ${FUNCTION_SERVICE_NAME[fn]} function is misconfigured (${describeIssues(result.error)}): ${fix}`,
    );
  }
  return result.data;
}

// ---- change fan-out: bucket events → change messages on the change topic

export interface ChangeFanoutEnvironment {
  /** The change topic's ARN. */
  readonly topicArn: string;
  /** The deployment prefix inside the bucket ("" or ending in "/"). */
  readonly prefix: string;
}

const changeFanoutSchema = builtOnFirstUse(() =>
  z.object({
    CHANGE_TOPIC_ARN: z.string({ error: "is not set: the stack must pass the change topic's ARN" }).min(1, "is empty"),
    BUCKET_PREFIX: z.string().default(""),
  }),
);

export function changeFanoutEnvironment(settings: ChangeFanoutEnvironment): Record<string, string> {
  return { CHANGE_TOPIC_ARN: settings.topicArn, BUCKET_PREFIX: settings.prefix };
}

export function parseChangeFanoutEnvironment(env: Env): ChangeFanoutEnvironment {
  const parsed = parseEnvironment("changeFanout", changeFanoutSchema, env, "the stack sets these variables.");
  return { topicArn: parsed.CHANGE_TOPIC_ARN, prefix: parsed.BUCKET_PREFIX };
}

// ---- compaction: on a schedule and on demand

export interface CompactionEnvironment {
  readonly bucket: string;
  readonly prefix: string;
  /** The repositories this stack serves; the function's permissions reach no others. */
  readonly repos: readonly string[];
  /** Minutes a pack stays in the bucket after compaction unlisted it. */
  readonly graceMinutes: number;
  /** The compaction queue: the schedule queues one message per repository there. Without it, `{}` compacts in-line. */
  readonly queueUrl?: string | undefined;
}

const commaList = () =>
  z.string().transform((text) =>
    text
      .split(",")
      .map((part) => part.trim())
      .filter(Boolean),
  );

const compactionSchema = builtOnFirstUse(() =>
  z.object({
    BUCKET_NAME: z.string({ error: "is not set: the stack must pass the bucket's name" }).min(1, "is empty"),
    BUCKET_PREFIX: z.string().default(""),
    REPOS: commaList().default([]),
    COMPACTION_GRACE_MINUTES: z.coerce.number({ error: "is not a number of minutes" }).min(0, "is not a number of minutes").default(60),
    COMPACTION_QUEUE_URL: z.url({ error: "is not a queue URL" }).optional(),
  }),
);

export function compactionEnvironment(settings: CompactionEnvironment): Record<string, string> {
  return {
    BUCKET_NAME: settings.bucket,
    BUCKET_PREFIX: settings.prefix,
    REPOS: settings.repos.join(","),
    COMPACTION_GRACE_MINUTES: String(settings.graceMinutes),
    ...(settings.queueUrl !== undefined ? { COMPACTION_QUEUE_URL: settings.queueUrl } : {}),
  };
}

export function parseCompactionEnvironment(env: Env): CompactionEnvironment {
  const parsed = parseEnvironment("compaction", compactionSchema, env, "the stack sets these variables.");
  return {
    bucket: parsed.BUCKET_NAME,
    prefix: parsed.BUCKET_PREFIX,
    repos: parsed.REPOS,
    graceMinutes: parsed.COMPACTION_GRACE_MINUTES,
    ...(parsed.COMPACTION_QUEUE_URL !== undefined ? { queueUrl: parsed.COMPACTION_QUEUE_URL } : {}),
  };
}

// ---- XMPP fan-out: the change topic → XMPP headlines (never the password: that is in the secret)

export interface XmppFanoutEnvironment {
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

const xmppFanoutSchema = builtOnFirstUse(() =>
  z.object({
    XMPP_SERVICE: z.string().regex(/^xmpps?:\/\/[^\s/]+$/, "must be xmpps://host[:port] or xmpp://host[:port]"),
    XMPP_DOMAIN: z.string().min(1).optional(),
    XMPP_RECIPIENTS: commaList().pipe(
      z.array(checkedString(assertJid, "is not an XMPP address (user@domain)")).min(1, "names no recipient"),
    ),
    XMPP_SECRET_ID: z.string().min(1, "is empty"),
    XMPP_TIMEOUT_MS: z.coerce.number().int().min(100).max(60_000).default(5_000),
  }),
);

export function xmppFanoutEnvironment(settings: Omit<XmppFanoutEnvironment, "timeoutMs"> & { timeoutMs?: number }): Record<string, string> {
  return {
    XMPP_SERVICE: settings.service,
    ...(settings.domain ? { XMPP_DOMAIN: settings.domain } : {}),
    XMPP_RECIPIENTS: settings.recipients.join(","),
    XMPP_SECRET_ID: settings.secretId,
    ...(settings.timeoutMs !== undefined ? { XMPP_TIMEOUT_MS: String(settings.timeoutMs) } : {}),
  };
}

export function parseXmppFanoutEnvironment(env: Env): XmppFanoutEnvironment {
  const parsed = parseEnvironment("xmppFanout", xmppFanoutSchema, env, "the stack sets these variables from its xmpp settings.");
  return {
    service: parsed.XMPP_SERVICE,
    domain: parsed.XMPP_DOMAIN,
    recipients: parsed.XMPP_RECIPIENTS,
    secretId: parsed.XMPP_SECRET_ID,
    timeoutMs: parsed.XMPP_TIMEOUT_MS,
  };
}

// ---- which bucket events feed which function

/** One bucket notification: events of `events` on keys starting with `prefix` go to `target`. */
export interface BucketEventRoute {
  /** Names the rule (S3's notification configuration id, `cloudbridge local`'s rule id). */
  readonly id: string;
  /** Only the change function is fed by the bucket; adding a target makes every reader of routes say where it runs. */
  readonly target: Extract<DeployedFunction, "changeFanout">;
  readonly events: readonly ("ObjectCreated" | "ObjectRemoved")[];
  readonly prefix: string;
}

/**
 * Refs and annexed content, not packs or agents' records: a push writes its packs before the ref that
 * needs them, so the ref's event is the one that says there is something new (protocol/change-from-event.ts
 * ignores the rest). A ref's deletion is news too, so removals under `repos/` are routed as well. The
 * change topic in turn feeds the XMPP function and the agents' queues.
 */
export function bucketEventRoutes(layout: BucketLayout): BucketEventRoute[] {
  return [
    { id: "change-fanout-repos", target: "changeFanout", events: ["ObjectCreated", "ObjectRemoved"], prefix: `${layout.prefix}repos/` },
    { id: "change-fanout-annex", target: "changeFanout", events: ["ObjectCreated"], prefix: `${layout.prefix}annex/` },
  ];
}
