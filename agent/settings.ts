import { randomUUID } from "node:crypto";
import { hostname, userInfo } from "node:os";
import { join } from "node:path";
import { assertAgentId } from "../protocol/names.ts";
import { formatRemoteUrl, type RemoteLocation } from "../protocol/remote-url.ts";
import { largeFilesRuleFrom, type LargeFilesRule } from "./annex/largefiles.ts";
import { Git, readConfig } from "../localgit/index.ts";

/**
 * A synced folder's settings, kept in its git config (`git config cloudbridge.<name>`), so they travel
 * with the folder and a person can read and change them with git. The agent's id is the folder's
 * git-annex UUID (`annex.uuid`). Secrets are not kept here: the XMPP password comes from
 * CLOUDBRIDGE_XMPP_PASSWORD or `.git/cloudbridge/xmpp-password` (mode 0600).
 */
export type ListenMode = "auto" | "xmpp" | "sqs" | "poll";
export type Wanted = "everything" | "nothing";

export interface FolderSettings {
  agent: string;
  description: string;
  location: RemoteLocation;
  endpoint: string | undefined;
  listen: ListenMode;
  topicArn: string | undefined;
  xmppService: string | undefined;
  xmppJid: string | undefined;
  pollIntervalMs: number;
  reconcileIntervalMs: number;
  debounceMs: number;
  presenceIntervalMs: number;
  wanted: Wanted;
  /** Which files are annexed (`cloudbridge.largefiles.*`, see agent/annex/largefiles.ts). */
  largefiles: LargeFilesRule;
}

export const SETTING_NAMES = {
  bucket: "cloudbridge.bucket",
  prefix: "cloudbridge.prefix",
  repo: "cloudbridge.repo",
  endpoint: "cloudbridge.endpoint",
  listen: "cloudbridge.listen",
  topicArn: "cloudbridge.topicArn",
  xmppService: "cloudbridge.xmppService",
  xmppJid: "cloudbridge.xmppJid",
  pollInterval: "cloudbridge.pollInterval",
  reconcileInterval: "cloudbridge.reconcileInterval",
  debounce: "cloudbridge.debounce",
  presenceInterval: "cloudbridge.presenceInterval",
  wanted: "cloudbridge.wanted",
  largefilesMinsize: "cloudbridge.largefiles.minsize",
  description: "cloudbridge.description",
} as const;

export class SettingsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SettingsError";
  }
}

export function gitFor(folder: string): Git {
  return new Git(join(folder, ".git"));
}

export async function readSettings(folder: string): Promise<FolderSettings> {
  const git = gitFor(folder);
  const all = await readAll(git.gitDir);
  const get = (name: string) => all.get(name.toLowerCase());
  const bucket = get(SETTING_NAMES.bucket);
  const repo = get(SETTING_NAMES.repo);
  const agent = get("annex.uuid");
  if (!bucket || !repo || !agent) {
    throw new SettingsError(
      `${folder} is not a cloudbridge folder (no ${SETTING_NAMES.bucket}/${SETTING_NAMES.repo}/annex.uuid in its git config): run \`cloudbridge init\` or \`cloudbridge clone\` first.`,
    );
  }
  const seconds = (name: string, fallback: number) => duration(get(name), fallback * 1000, name, 1000);
  const listen = (get(SETTING_NAMES.listen) ?? "auto") as ListenMode;
  if (!["auto", "xmpp", "sqs", "poll"].includes(listen))
    throw new SettingsError(`${SETTING_NAMES.listen} is ${JSON.stringify(listen)}: use auto, xmpp, sqs or poll.`);
  const wanted = (get(SETTING_NAMES.wanted) ?? "everything") as Wanted;
  if (!["everything", "nothing"].includes(wanted))
    throw new SettingsError(`${SETTING_NAMES.wanted} is ${JSON.stringify(wanted)}: use everything or nothing.`);
  return {
    agent: assertAgentId(agent),
    description: get(SETTING_NAMES.description) ?? `${currentUser()} on ${hostname()}`,
    location: { bucket, prefix: get(SETTING_NAMES.prefix) ?? "", repo },
    endpoint: get(SETTING_NAMES.endpoint),
    listen,
    topicArn: get(SETTING_NAMES.topicArn),
    xmppService: get(SETTING_NAMES.xmppService),
    xmppJid: get(SETTING_NAMES.xmppJid),
    pollIntervalMs: seconds(SETTING_NAMES.pollInterval, 30),
    reconcileIntervalMs: seconds(SETTING_NAMES.reconcileInterval, 600),
    debounceMs: duration(get(SETTING_NAMES.debounce), 300, SETTING_NAMES.debounce, 1),
    presenceIntervalMs: seconds(SETTING_NAMES.presenceInterval, 3600),
    wanted,
    largefiles: largefilesFrom(all),
  };
}

export async function writeSettings(folder: string, values: Partial<Record<keyof typeof SETTING_NAMES, string>>): Promise<void> {
  const git = gitFor(folder);
  for (const [name, value] of Object.entries(values)) {
    if (value !== undefined) await git.setConfig(SETTING_NAMES[name as keyof typeof SETTING_NAMES], value);
  }
}

/** The folder's git-annex UUID, created (as git-annex would) when it has none. */
export async function ensureAgentId(folder: string): Promise<string> {
  const git = gitFor(folder);
  const existing = await git.config("annex.uuid");
  if (existing) return assertAgentId(existing);
  const id = randomUUID();
  await git.setConfig("annex.uuid", id);
  return id;
}

export function describeLocation(settings: FolderSettings): string {
  return formatRemoteUrl(settings.location);
}

async function readAll(gitDir: string): Promise<Map<string, string>> {
  const multi = await readConfig(gitDir);
  const map = new Map([...multi].map(([name, values]) => [name, values.at(-1)!] as const));
  multiValues.set(map, multi);
  return map;
}

const multiValues = new WeakMap<Map<string, string>, Map<string, string[]>>();

function largefilesFrom(all: Map<string, string>): LargeFilesRule {
  const multi = multiValues.get(all) ?? new Map<string, string[]>();
  const minsize = all.get("cloudbridge.largefiles.minsize");
  try {
    return largeFilesRuleFrom({
      ...(minsize ? { minsize } : {}),
      include: multi.get("cloudbridge.largefiles.include") ?? [],
      exclude: multi.get("cloudbridge.largefiles.exclude") ?? [],
    });
  } catch (error) {
    throw new SettingsError(`cloudbridge.largefiles.minsize: ${(error as Error).message}`);
  }
}

/** A number in config: seconds for intervals (`unit` 1000), bytes or ms otherwise; "10s", "5m", "2MiB" accepted. */
function duration(text: string | undefined, fallback: number, name: string, unit: number): number {
  if (text === undefined || text === "") return fallback;
  const match = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|k|kib|m?ib|gib|kb|mb|gb)?$/i.exec(text.trim());
  if (!match) throw new SettingsError(`${name} is ${JSON.stringify(text)}: write a number (e.g. 30, 10s, 5m, 2MiB).`);
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
