import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { z } from "zod";
import { agentOutputName, assertJid, assertRepoName, checkedString, CloudbridgeError, normalizePrefix } from "../protocol/index.ts";

/**
 * The stack's configuration: which repositories live in the bucket, which agents sync them, and how
 * changes are announced. Read from `cdk.json`'s context key `cloudbridge` (or a JSON file named by the
 * context key `cloudbridgeConfig`) and validated here, so a mistake stops `cdk synth` with a message
 * that says which setting is wrong and what it should be, before anything is deployed.
 */
const repoName = checkedString(
  assertRepoName,
  'is not a repository name (1–100 letters, digits, ".", "_", "+", "-"; not ending in ".git")',
);
const jid = checkedString(assertJid, "is not an XMPP address (user@domain)");

const agentSchema = z.strictObject({
  /** Names the agent's IAM user, queue and outputs: lowercase letters, digits and "-". */
  name: z.string().regex(/^[a-z][a-z0-9-]{0,31}$/, 'must be 1–32 lowercase letters, digits or "-", starting with a letter'),
  /** The repositories this agent may read and write; each must be listed in `repos`. */
  repos: z.array(repoName).min(1, "must name at least one repository"),
  /** Raise by one to rotate the agent's access key: the next deploy replaces the key and its secret. */
  keySerial: z.number().int().min(1).default(1),
});

const xmppSchema = z.strictObject({
  /** `xmpps://host:5223` (direct TLS) or `xmpp://host:5222` (STARTTLS). */
  service: z.string().regex(/^xmpps?:\/\/[A-Za-z0-9.-]+(:\d{1,5})?$/, "must be xmpps://host[:port] or xmpp://host[:port]"),
  /** The XMPP domain when it differs from the service's host. */
  domain: z
    .string()
    .regex(/^[A-Za-z0-9.-]+$/, "must be a domain name")
    .optional(),
  /** The account the function logs in as. Its password lives in Secrets Manager, never here. */
  notifier: jid.refine((value) => !value.includes("/"), "must be a bare address (user@domain), without a resource"),
  /** Who receives headlines: the agents' accounts (bare JIDs reach every online resource). */
  recipients: z.array(jid).min(1, "must name at least one JID"),
  /**
   * At most this many XMPP logins at once (the function's reserved concurrency). 0: no cap — for an account
   * whose Lambda concurrency quota is still the new-account 10, where any reservation is refused.
   */
  maxConcurrency: z.number().int().min(0).max(100).default(5),
  /** An existing secret holding {"jid","password"}; without it the stack creates one with a generated password. */
  secretArn: z
    .string()
    .regex(/^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:.+$/, "must be a Secrets Manager secret ARN")
    .optional(),
});

export const configSchema = z
  .strictObject({
    /** Where everything lives inside the bucket ("" or e.g. "team/"). */
    prefix: checkedString(normalizePrefix, 'is not a bucket prefix (parts of letters, digits, ".", "_", "+", "-", separated by "/")')
      .default("")
      .transform((value) => normalizePrefix(value)),
    repos: z
      .array(repoName)
      .min(1, "must name at least one repository")
      .refine((repos) => new Set(repos).size === repos.length, "names a repository twice")
      // An agent's repositories are IAM tags, and IAM tag keys ignore case.
      .refine(
        (repos) => new Set(repos.map((repo) => repo.toLowerCase())).size === repos.length,
        "names two repositories that differ only in case: IAM tag keys (one per repository an agent syncs) ignore case",
      ),
    agents: z.array(agentSchema).default([]),
    /**
     * 0: the agents live in the main stack. N > 0: they are spread over N nested stacks by a hash of
     * their names (CloudFormation allows 500 resources per stack; an agent takes 10). Choose it once:
     * changing it moves agents between nested stacks, which replaces their users and keys.
     */
    agentStacks: z.number().int().min(0).max(100).default(0),
    /** Days a deleted or overwritten object stays recoverable (S3 versioning, noncurrent versions). */
    noncurrentVersionDays: z.number().int().min(1).max(3650).default(30),
    /** Days a pack removed by compaction stays recoverable; packs are large and fully contained in the new pack. */
    retiredPackDays: z.number().int().min(1).max(3650).default(7),
    /** Days before S3 discards the parts of an upload that was never completed. */
    incompleteUploadDays: z.number().int().min(1).max(365).default(7),
    /** Days the S3 server access logs are kept. */
    accessLogDays: z.number().int().min(1).max(3650).default(90),
    /** Days Lambda logs are kept. */
    logRetentionDays: z.union([z.literal(7), z.literal(14), z.literal(30), z.literal(90), z.literal(365)]).default(30),
    notifications: z
      .strictObject({
        emails: z.array(z.email("is not an e-mail address")).default([]),
        https: z.array(z.url({ protocol: /^https$/, error: "is not an https:// URL" })).default([]),
      })
      .default({ emails: [], https: [] }),
    xmpp: xmppSchema.optional(),
    /** Who is e-mailed when an event lands in a dead-letter queue ($0.10 per alarm and month; none by default). */
    alarms: z.strictObject({ emails: z.array(z.email("is not an e-mail address")).min(1, "must name at least one address") }).optional(),
    compaction: z
      .strictObject({
        /** EventBridge schedule expression. */
        schedule: z
          .string()
          .regex(/^(rate|cron)\(.+\)$/, "must be an EventBridge schedule such as rate(1 day) or cron(0 3 * * ? *)")
          .default("rate(1 day)"),
        /** Minutes a compacted pack stays in the bucket after it is unlisted, for readers that listed it a moment ago. */
        graceMinutes: z.number().int().min(1).max(10_080).default(60),
      })
      .default({ schedule: "rate(1 day)", graceMinutes: 60 }),
  })
  .superRefine((config, ctx) => {
    const names = new Map<string, string>();
    config.agents.forEach((agent, index) => {
      const output = agentOutputName(agent.name);
      const clash = names.get(output);
      if (clash !== undefined) {
        ctx.addIssue({
          code: "custom",
          path: ["agents", index, "name"],
          message: `clashes with agent "${clash}": give agents distinct names`,
        });
      }
      names.set(output, agent.name);
      agent.repos.forEach((repo, r) => {
        if (!config.repos.includes(repo)) {
          ctx.addIssue({
            code: "custom",
            path: ["agents", index, "repos", r],
            message: `"${repo}" is not one of the repos (${config.repos.join(", ")}): add it to "repos" or fix the name`,
          });
        }
      });
    });
  });

export type CloudbridgeConfig = z.infer<typeof configSchema>;
export type AgentConfig = CloudbridgeConfig["agents"][number];
export type XmppConfig = NonNullable<CloudbridgeConfig["xmpp"]>;

/** The stack's configuration is missing, unreadable or wrong; the message names the setting and the fix. */
export type ConfigErrorCode = "missing-stack-config" | "unreadable-stack-config" | "invalid-stack-config" | "stack-limit-exceeded";

export class ConfigError extends CloudbridgeError<ConfigErrorCode> {}

/** Validates a configuration object; `source` names where it came from in the error message. */
export function parseConfig(value: unknown, source: string): CloudbridgeConfig {
  if (value === undefined) {
    throw new ConfigError(
      "missing-stack-config",
      `No cloudbridge configuration: add a "cloudbridge" object to "context" in cdk.json (see docs/stack.md), ` +
        `or pass -c cloudbridgeConfig=path/to/config.json.`,
    );
  }
  const result = configSchema.safeParse(value);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => `  - ${formatPath(issue.path)}: ${issue.message}`);
    throw new ConfigError(
      "invalid-stack-config",
      `The cloudbridge configuration in ${source} is not valid:\n${problems.join("\n")}\nSee docs/stack.md for every setting.`,
    );
  }
  return result.data;
}

/** The configuration as the CDK app sees it: the `cloudbridgeConfig` file if named, else context `cloudbridge`. */
export function configFromContext(tryGetContext: (key: string) => unknown, cwd = process.cwd()): CloudbridgeConfig {
  const file = tryGetContext("cloudbridgeConfig");
  if (typeof file === "string" && file.length > 0) {
    const path = resolve(cwd, file);
    let text: string;
    try {
      text = readFileSync(path, "utf8");
    } catch (error) {
      throw new ConfigError(
        "unreadable-stack-config",
        `Cannot read the cloudbridge configuration file ${path}: ${(error as Error).message}`,
      );
    }
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (error) {
      throw new ConfigError("invalid-stack-config", `The cloudbridge configuration file ${path} is not JSON: ${(error as Error).message}`);
    }
    return parseConfig(value, path);
  }
  return parseConfig(tryGetContext("cloudbridge"), 'cdk.json (context "cloudbridge")');
}

function formatPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>((text, part) => (typeof part === "number" ? `${text}[${part}]` : `${text}.${String(part)}`), "cloudbridge");
}
