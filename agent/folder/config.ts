import { stat } from "node:fs/promises";
import { hostname, userInfo } from "node:os";
import { basename, join } from "node:path";
import { z } from "zod";
import { largeFilesRuleFrom, type LargeFilesRule } from "../../annex/index.ts";
import {
  assertAgentId,
  assertEndpointUrl,
  assertRepoName,
  normalizePrefix,
  assertBucketName,
  builtOnFirstUse,
  formatRemoteUrl,
  serviceUrlProblem,
  type RemoteLocation,
  type ServiceUrlRule,
} from "../../protocol/index.ts";
import { AGENT_ID_KEY, BUCKET_ACCESS_SETTINGS, ENCRYPTED_SETTING, FOLDER_LOCATION_SETTINGS } from "../../gitstore/index.ts";
import { configFiles, configFilesOf, Git, parseConfigWithOrigins } from "../../localgit/index.ts";
import { FolderError, notAFolder } from "./errors.ts";
import { FILTER_PROCESS_SETTING } from "../git-filter/register.ts";

/**
 * A synced folder's settings, kept in its git config (`git config cloudbridge.<name>`), so they travel
 * with the folder and a person can read and change them with git. The agent's id is the folder's
 * git-annex UUID (`annex.uuid`). Secrets are not kept here: the XMPP password comes from
 * CLOUDBRIDGE_XMPP_PASSWORD or `.git/cloudbridge/xmpp-password` (mode 0600).
 *
 * Every `cloudbridge.*` setting is read here, once, through one schema: a wrong value is refused with the
 * setting's name and what to write instead, whichever command reads it.
 */
export type ListenMode = "auto" | "xmpp" | "sqs" | "poll";
export type Wanted = "everything" | "nothing";

/** Where the folder's repository is in the bucket, and how to reach the bucket. */
export interface CloudSettings {
  location: RemoteLocation;
  /** An S3-compatible endpoint (the local cloud); undefined = AWS. */
  endpoint: string | undefined;
  /** The bucket's region; undefined = the SDK's own resolution (AWS_REGION, profile). */
  region: string | undefined;
  /** The cloud special remote's UUID, remembered after the first look at the bucket. */
  cloudUuid: string | undefined;
  /**
   * The named profile in the shared credentials file holding this agent's own key (set by onboarding);
   * undefined = the SDK's credential chain.
   */
  profile: string | undefined;
  /**
   * Whether the repository is encrypted, recorded when the folder was made: the bucket's key ring is never
   * what decides, so a key ring removed from the bucket cannot turn this machine into one that writes in
   * clear. undefined = a folder made before it was recorded (asked of the bucket once, then recorded).
   */
  encrypted: boolean | undefined;
}

export interface FolderSettings extends CloudSettings {
  agent: string;
  description: string;
  listen: ListenMode;
  topicArn: string | undefined;
  /** The agent's queue the stack created (set by onboarding): read, never created or subscribed. */
  queueUrl: string | undefined;
  /** The stack this folder was onboarded from, and the agent's secret there (rotated keys are read from it). */
  stack: string | undefined;
  keySecret: string | undefined;
  keyCheckIntervalMs: number;
  xmppService: string | undefined;
  xmppJid: string | undefined;
  pollIntervalMs: number;
  reconcileIntervalMs: number;
  debounceMs: number;
  /** A changed file is committed once it has not changed for this long (the daemon). */
  settleMs: number;
  /** ...or once it has waited this long, for a file that never stops changing (a log). */
  settleMaxMs: number;
  presenceIntervalMs: number;
  wanted: Wanted;
  /** An encrypted repository's packs are compacted by this machine once the bucket lists more than this many. */
  compactAbove: number;
  /** Which files are annexed (`cloudbridge.largefiles.*`, see annex/content/largefiles.ts). */
  largefiles: LargeFilesRule;
  /** The daemon's page on 127.0.0.1: a port (0: any free one) or "off". */
  uiPort: number | "off";
  /** Bandwidth limits for annexed content, bytes per second (0: none). */
  uploadLimit: number;
  downloadLimit: number;
  /** The command git runs as the folder's clean filter (agent/git-filter/register.ts registers it), if any. */
  cleanFilter: string | undefined;
}

export const SETTING_NAMES = {
  bucket: FOLDER_LOCATION_SETTINGS.bucket,
  prefix: FOLDER_LOCATION_SETTINGS.prefix,
  repo: FOLDER_LOCATION_SETTINGS.repo,
  endpoint: BUCKET_ACCESS_SETTINGS.endpoint,
  region: BUCKET_ACCESS_SETTINGS.region,
  listen: "cloudbridge.listen",
  topicArn: "cloudbridge.topicArn",
  queueUrl: "cloudbridge.queueUrl",
  profile: BUCKET_ACCESS_SETTINGS.profile,
  stack: "cloudbridge.stack",
  keySecret: "cloudbridge.keySecret",
  keyCheckInterval: "cloudbridge.keyCheckInterval",
  xmppService: "cloudbridge.xmppService",
  xmppJid: "cloudbridge.xmppJid",
  pollInterval: "cloudbridge.pollInterval",
  reconcileInterval: "cloudbridge.reconcileInterval",
  debounce: "cloudbridge.debounce",
  settle: "cloudbridge.settle",
  settleMax: "cloudbridge.settleMax",
  presenceInterval: "cloudbridge.presenceInterval",
  wanted: "cloudbridge.wanted",
  compactAbove: "cloudbridge.compactAbove",
  largefilesMinsize: "cloudbridge.largefiles.minsize",
  description: "cloudbridge.description",
  cloudUuid: "cloudbridge.cloudUuid",
  encrypted: ENCRYPTED_SETTING,
  uiPort: "cloudbridge.uiPort",
  uploadLimit: "cloudbridge.uploadLimit",
  downloadLimit: "cloudbridge.downloadLimit",
} as const;

export type SettingName = keyof typeof SETTING_NAMES;

/** Packs an encrypted repository may list before a machine compacts them (each compaction reads every pack). */
export const DEFAULT_COMPACT_ABOVE = 16;

export function gitFor(gitDir: string): Git {
  return new Git(gitDir);
}

const optionalText = z
  .string()
  .optional()
  .transform((text) => (text === "" ? undefined : text));

const duration = (name: string, fallbackMs: number, unit: number) =>
  optionalText.transform((text, context) => {
    if (text === undefined) return fallbackMs;
    const ms = parseDuration(text, unit);
    if (ms === undefined) {
      context.addIssue({ code: "custom", message: `${name} is ${JSON.stringify(text)}: write a number (e.g. 30, 10s, 5m, 2MiB).` });
      return z.NEVER;
    }
    return ms;
  });

/** A bandwidth limit: bytes per second ("5MB" = 5,000,000, "2MiB"; 0 or "none" for no limit). */
const rate = (name: string) =>
  optionalText.transform((text, context) => {
    if (text === undefined || text.trim().toLowerCase() === "none") return 0;
    const bytes = parseRate(text);
    if (bytes === undefined) {
      context.addIssue({
        code: "custom",
        message: `${name} is ${JSON.stringify(text)}: write bytes per second (e.g. 5MB, 512KiB), or none.`,
      });
      return z.NEVER;
    }
    return bytes;
  });

/**
 * A setting that names a service by URL (the agent's queue, the XMPP server): refused before any connection
 * is tried, for the reasons every URL setting is (protocol/service-url.ts).
 */
const serviceUrl = (name: string, rule: ServiceUrlRule, form: string) =>
  optionalText.transform((text, context) => {
    if (text === undefined) return undefined;
    const problem = serviceUrlProblem(text, rule);
    if (problem === undefined) return text;
    context.addIssue({ code: "custom", message: `${name} is ${JSON.stringify(problem.shown)}: ${problem.why}; write ${form}.` });
    return z.NEVER;
  });

const oneOf = <T extends string>(name: string, values: readonly [T, ...T[]], fallback: T) =>
  optionalText.transform((text, context): T => {
    if (text === undefined) return fallback;
    if ((values as readonly string[]).includes(text)) return text as T;
    const choices = `${values.slice(0, -1).join(", ")} or ${values.at(-1)}`;
    context.addIssue({ code: "custom", message: `${name} is ${JSON.stringify(text)}: use ${choices}.` });
    return z.NEVER;
  });

const cloudSchema = builtOnFirstUse(() =>
  z.object({
    [SETTING_NAMES.bucket]: optionalText,
    [SETTING_NAMES.repo]: optionalText,
    [SETTING_NAMES.prefix]: optionalText,
    [SETTING_NAMES.endpoint]: optionalText,
    [SETTING_NAMES.region]: optionalText,
    [SETTING_NAMES.cloudUuid]: optionalText,
    [SETTING_NAMES.profile]: optionalText,
    [SETTING_NAMES.encrypted]: optionalText.transform((text, context) => {
      if (text === undefined) return undefined;
      if (text === "true" || text === "false") return text === "true";
      context.addIssue({ code: "custom", message: `${SETTING_NAMES.encrypted} is ${JSON.stringify(text)}: it is true or false.` });
      return z.NEVER;
    }),
  }),
);

const folderSchema = builtOnFirstUse(() =>
  cloudSchema().extend({
    [AGENT_ID_KEY]: optionalText,
    [SETTING_NAMES.description]: optionalText,
    [SETTING_NAMES.listen]: oneOf(SETTING_NAMES.listen, ["auto", "xmpp", "sqs", "poll"], "auto"),
    [SETTING_NAMES.topicArn]: optionalText,
    [SETTING_NAMES.queueUrl]: serviceUrl(
      SETTING_NAMES.queueUrl,
      { schemes: ["https:", "http:"], pathNames: "queue" },
      "the queue's URL as the stack's outputs give it (https://sqs.REGION.amazonaws.com/ACCOUNT/NAME), or run `cloudbridge init --stack …` again",
    ),
    [SETTING_NAMES.stack]: optionalText,
    [SETTING_NAMES.keySecret]: optionalText,
    [SETTING_NAMES.keyCheckInterval]: duration(SETTING_NAMES.keyCheckInterval, 3_600_000, 1000),
    [SETTING_NAMES.xmppService]: serviceUrl(
      SETTING_NAMES.xmppService,
      // A WebSocket URL may carry a query to its server.
      { schemes: ["xmpp:", "xmpps:", "ws:", "wss:"], queryAllowed: true },
      "xmpp://HOST:PORT or xmpps://HOST:PORT (or a ws:// / wss:// WebSocket URL)",
    ),
    [SETTING_NAMES.xmppJid]: optionalText,
    [SETTING_NAMES.pollInterval]: duration(SETTING_NAMES.pollInterval, 30_000, 1000),
    [SETTING_NAMES.reconcileInterval]: duration(SETTING_NAMES.reconcileInterval, 600_000, 1000),
    [SETTING_NAMES.debounce]: duration(SETTING_NAMES.debounce, 300, 1),
    [SETTING_NAMES.settle]: duration(SETTING_NAMES.settle, 1000, 1),
    [SETTING_NAMES.settleMax]: duration(SETTING_NAMES.settleMax, 60_000, 1000),
    [SETTING_NAMES.presenceInterval]: duration(SETTING_NAMES.presenceInterval, 3_600_000, 1000),
    [SETTING_NAMES.wanted]: oneOf(SETTING_NAMES.wanted, ["everything", "nothing"], "everything"),
    [SETTING_NAMES.compactAbove]: optionalText.transform((text, context) => {
      if (text === undefined) return DEFAULT_COMPACT_ABOVE;
      const packs = Number(text);
      if (Number.isInteger(packs) && packs >= 1) return packs;
      context.addIssue({
        code: "custom",
        message: `${SETTING_NAMES.compactAbove} is ${JSON.stringify(text)}: write a whole number of packs (1 or more).`,
      });
      return z.NEVER;
    }),
    [SETTING_NAMES.largefilesMinsize]: optionalText,
    [SETTING_NAMES.uiPort]: optionalText.transform((text, context) => {
      if (text === undefined) return 0;
      if (text.trim().toLowerCase() === "off") return "off" as const;
      const port = Number(text);
      if (Number.isInteger(port) && port >= 0 && port < 65536) return port;
      context.addIssue({
        code: "custom",
        message: `${SETTING_NAMES.uiPort} is ${JSON.stringify(text)}: write a port (0 for any free one) or off.`,
      });
      return z.NEVER;
    }),
    [SETTING_NAMES.uploadLimit]: rate(SETTING_NAMES.uploadLimit),
    [SETTING_NAMES.downloadLimit]: rate(SETTING_NAMES.downloadLimit),
    "cloudbridge.largefiles.include": z.array(z.string()),
    "cloudbridge.largefiles.exclude": z.array(z.string()),
  }),
);

/** What `git config --list` holds, names as written in SETTING_NAMES (git compares them without case). */
interface ConfigValues {
  last: Record<string, string>;
  all: Record<string, string[]>;
  /** Every file a setting came from, the files included among them. */
  files: string[];
}

const KNOWN = [
  ...Object.values(SETTING_NAMES),
  AGENT_ID_KEY,
  "cloudbridge.largefiles.include",
  "cloudbridge.largefiles.exclude",
  FILTER_PROCESS_SETTING,
];

async function readConfig(gitDir: string): Promise<ConfigValues> {
  const { stdout, code } = await gitFor(gitDir).run(["config", "--null", "--list", "--show-origin"], { okCodes: [1, 128] });
  const byLowerName = new Map(KNOWN.map((name) => [name.toLowerCase(), name]));
  const values: ConfigValues = { last: {}, all: {}, files: [] };
  if (code !== 0) return values;
  const settings = parseConfigWithOrigins(stdout.toString());
  for (const setting of settings) {
    const name = byLowerName.get(setting.name);
    if (!name) continue;
    values.last[name] = setting.value;
    (values.all[name] ??= []).push(setting.value);
  }
  values.files = configFilesOf(settings);
  return values;
}

function validate<S extends z.ZodType>(schema: () => S, input: unknown): z.output<S> {
  // Without JIT: a command parses the settings once, and zod's compiled fast path for an object of thirty
  // fields costs more to build (~25 ms of a no-op sync's start) than it ever saves; same checks, same messages.
  const result = schema().safeParse(input, { jitless: true });
  if (result.success) return result.data;
  throw new FolderError("invalid-setting", result.error.issues.map((issue) => issue.message).join(" "));
}

/** A value the protocol refuses, reported with the setting it came from. */
function checked<T>(name: string, check: () => T): T {
  try {
    return check();
  } catch (error) {
    throw new FolderError("invalid-setting", `${name}: ${(error as Error).message}`, { cause: error });
  }
}

/** The folder's endpoint, or a refusal naming the setting and what to write (before any request is made with it). */
function checkedEndpoint(endpoint: string | undefined): string | undefined {
  try {
    return endpoint && assertEndpointUrl(endpoint, `${SETTING_NAMES.endpoint} (git config ${SETTING_NAMES.endpoint} URL)`);
  } catch (error) {
    throw new FolderError("invalid-setting", (error as Error).message, { cause: error });
  }
}

function cloudFrom(raw: z.output<ReturnType<typeof cloudSchema>>, where: string, missing: string): CloudSettings {
  const bucket = raw[SETTING_NAMES.bucket];
  const repo = raw[SETTING_NAMES.repo];
  if (!bucket || !repo) throw notAFolder(where, where, missing);
  return {
    location: {
      bucket: checked(SETTING_NAMES.bucket, () => assertBucketName(bucket)),
      prefix: checked(SETTING_NAMES.prefix, () => normalizePrefix(raw[SETTING_NAMES.prefix])),
      repo: checked(SETTING_NAMES.repo, () => assertRepoName(repo)),
    },
    endpoint: checkedEndpoint(raw[SETTING_NAMES.endpoint]),
    region: raw[SETTING_NAMES.region],
    cloudUuid: raw[SETTING_NAMES.cloudUuid],
    profile: raw[SETTING_NAMES.profile],
    encrypted: raw[SETTING_NAMES.encrypted],
  };
}

/**
 * Only where the repository is in the bucket: for commands that also serve plain git repositories
 * using the remote helper (`compact`), which have no agent id.
 */
export async function readCloudSettings(root: string, gitDir = join(root, ".git")): Promise<CloudSettings> {
  const raw = validate(cloudSchema, (await readConfig(gitDir)).last);
  return cloudFrom(raw, root, `${SETTING_NAMES.bucket} and ${SETTING_NAMES.repo}`);
}

/**
 * For a daemon applying settings changed while it runs: the folder's settings, read again only when a file
 * git reads them from changed since the last look — `.git/config`, the global and system files (a
 * `git config --global` after the daemon started), and every file these include — each by its inode, size
 * and mtime, looked at before reading (a change while reading is seen at the next look). `changed` says
 * whether this look read them (`settings` undefined: they could not be read).
 */
export function settingsWhenChanged(root: string, gitDir: string): () => Promise<{ changed: boolean; settings?: FolderSettings }> {
  let seen: string | undefined;
  let included: string[] = [];
  return async () => {
    // Read again when the reading names an include not looked at before, so that its state is from before a read.
    for (let attempt = 0; ; attempt++) {
      const files = [...new Set([...configFiles(gitDir), ...included])];
      const state = (
        await Promise.all(
          files.map((file) =>
            stat(file).then(
              (s) => `${s.ino}:${s.size}:${s.mtimeMs}`,
              () => "none",
            ),
          ),
        )
      ).join(" ");
      const look = `${files.join("\0")}\0${state}`;
      if (look === seen) return { changed: false };
      const read = await readSettingsFrom(root, gitDir).catch(() => undefined);
      included = read?.files ?? included;
      if (attempt < 2 && included.some((file) => !files.includes(file))) continue;
      seen = look;
      return { changed: true, settings: read?.settings };
    }
  };
}

/** Every setting of a synced folder, validated (`root` is the work tree, named in errors). */
export async function readSettings(root: string, gitDir = join(root, ".git")): Promise<FolderSettings> {
  return (await readSettingsFrom(root, gitDir)).settings;
}

/** The folder's settings and the files they were read from. */
async function readSettingsFrom(root: string, gitDir: string): Promise<{ settings: FolderSettings; files: string[] }> {
  const config = await readConfig(gitDir);
  const raw = validate(folderSchema, {
    ...config.last,
    "cloudbridge.largefiles.include": config.all["cloudbridge.largefiles.include"] ?? [],
    "cloudbridge.largefiles.exclude": config.all["cloudbridge.largefiles.exclude"] ?? [],
  });
  const missing = `${SETTING_NAMES.bucket}, ${SETTING_NAMES.repo} and ${AGENT_ID_KEY}`;
  const cloud = cloudFrom(raw, root, missing);
  const agent = raw[AGENT_ID_KEY];
  if (!agent) throw notAFolder(root, root, missing);
  let largefiles: LargeFilesRule;
  try {
    largefiles = largeFilesRuleFrom({
      ...(raw[SETTING_NAMES.largefilesMinsize] ? { minsize: raw[SETTING_NAMES.largefilesMinsize] } : {}),
      include: raw["cloudbridge.largefiles.include"],
      exclude: raw["cloudbridge.largefiles.exclude"],
    });
  } catch (error) {
    throw new FolderError("invalid-setting", `${SETTING_NAMES.largefilesMinsize}: ${(error as Error).message}`);
  }
  const settings: FolderSettings = {
    ...cloud,
    agent: checked(AGENT_ID_KEY, () => assertAgentId(agent)),
    // Distinct per folder and per machine: several folders on one machine must not all read "user on host".
    description: raw[SETTING_NAMES.description] ?? `${currentUser()} on ${hostname()}: ${basename(root)}`,
    listen: raw[SETTING_NAMES.listen],
    topicArn: raw[SETTING_NAMES.topicArn],
    queueUrl: raw[SETTING_NAMES.queueUrl],
    stack: raw[SETTING_NAMES.stack],
    keySecret: raw[SETTING_NAMES.keySecret],
    keyCheckIntervalMs: raw[SETTING_NAMES.keyCheckInterval],
    xmppService: raw[SETTING_NAMES.xmppService],
    xmppJid: raw[SETTING_NAMES.xmppJid],
    pollIntervalMs: raw[SETTING_NAMES.pollInterval],
    reconcileIntervalMs: raw[SETTING_NAMES.reconcileInterval],
    debounceMs: raw[SETTING_NAMES.debounce],
    settleMs: raw[SETTING_NAMES.settle],
    settleMaxMs: raw[SETTING_NAMES.settleMax],
    presenceIntervalMs: raw[SETTING_NAMES.presenceInterval],
    wanted: raw[SETTING_NAMES.wanted],
    compactAbove: raw[SETTING_NAMES.compactAbove],
    largefiles,
    uiPort: raw[SETTING_NAMES.uiPort],
    uploadLimit: raw[SETTING_NAMES.uploadLimit],
    downloadLimit: raw[SETTING_NAMES.downloadLimit],
    cleanFilter: config.last[FILTER_PROCESS_SETTING],
  };
  return { settings, files: config.files };
}

/** Bytes per second: a number, optionally with a decimal (KB, MB, GB) or binary (KiB, MiB, GiB) unit and "/s". */
export function parseRate(text: string): number | undefined {
  const match = /^(\d+(?:\.\d+)?)\s*(b|kb|mb|gb|kib|mib|gib|k|m|g)?(?:\/s)?$/i.exec(text.trim());
  if (!match) return undefined;
  const factor: Record<string, number> = {
    "": 1,
    b: 1,
    kb: 1e3,
    mb: 1e6,
    gb: 1e9,
    k: 1e3,
    m: 1e6,
    g: 1e9,
    kib: 1024,
    mib: 1024 ** 2,
    gib: 1024 ** 3,
  };
  return Math.round(Number(match[1]) * factor[(match[2] ?? "").toLowerCase()]!);
}

export type SettingValues = Partial<Record<SettingName, string>>;

/**
 * Refuses, with the reason reading them would give, values the folder's settings would refuse once written:
 * init and clone check what they were given before they make anything, so that a wrong value leaves nothing
 * half made. `given`: how a value came in when not as the setting itself (a flag: "--xmpp-service").
 */
export function assertSettingValues(values: SettingValues, given: Partial<Record<SettingName, string>> = {}): void {
  const shape = folderSchema().shape as Record<string, z.ZodType>;
  const refusals: string[] = [];
  for (const [key, value] of Object.entries(values)) {
    const result = shape[SETTING_NAMES[key as SettingName]]?.safeParse(value);
    if (!result || result.success) continue;
    const messages = result.error.issues.map((issue) => issue.message).join(" ");
    const flag = given[key as SettingName];
    refusals.push(flag ? `${flag}: ${messages}` : messages);
  }
  if (refusals.length > 0) throw new FolderError("invalid-setting", `${refusals.join(" ")} Nothing was written.`);
}

export async function writeSettings(gitDir: string, values: SettingValues): Promise<void> {
  const git = gitFor(gitDir);
  for (const [name, value] of Object.entries(values)) {
    if (value !== undefined) await git.setConfig(SETTING_NAMES[name as SettingName], value);
  }
}

/**
 * The repository's agent id, the one policy for it: `annex.uuid` when set, else `cloudbridge.agent` (what
 * the remote helper recorded in a plain git repository), else a new UUID. It is written to `annex.uuid`
 * only for a synced folder (`folder: true`): init and clone record the folder in the git-annex branch's
 * uuid.log, so it is a git-annex repository and that key says so. A plain git repository gets
 * `cloudbridge.agent`, because to git-annex annex.uuid means "initialised", which only `git annex init`
 * (or a cloudbridge folder) should say. A repository that used the helper and becomes a folder keeps its id.
 */
export function describeLocation(settings: CloudSettings): string {
  return formatRemoteUrl(settings.location);
}

/** A number in config: seconds for intervals (`unit` 1000), bytes or ms otherwise; "10s", "5m", "2MiB" accepted. */
function parseDuration(text: string, unit: number): number | undefined {
  const match = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|k|kib|m?ib|gib|kb|mb|gb)?$/i.exec(text.trim());
  if (!match) return undefined;
  const value = Number(match[1]);
  const suffix = (match[2] ?? "").toLowerCase();
  const factor: Record<string, number> = {
    "": unit,
    ms: 1,
    s: 1000,
    m: unit === 1000 ? 60_000 : 1024 * 1024,
    h: 3_600_000,
    k: 1024,
    kib: 1024,
    kb: 1000,
    mib: 1024 * 1024,
    mb: 1_000_000,
    gib: 1024 ** 3,
    gb: 1e9,
  };
  return Math.round(value * (factor[suffix] ?? unit));
}

function currentUser(): string {
  try {
    return userInfo().username;
  } catch {
    return process.env.USER ?? "someone";
  }
}
