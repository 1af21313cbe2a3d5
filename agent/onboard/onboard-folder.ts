import { existsSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { AGENT_ID_KEY } from "../../gitstore/index.ts";
import { getConfig } from "../../localgit/index.ts";
import { formatRemoteUrl } from "../../protocol/index.ts";
import { profileNameFor, writeProfileKey } from "../credentials/profile-file.ts";
import { cloneFolder, folderRoot, initFolder, type SettingValues, type SyncedFolder } from "../folder/index.ts";
import type { Logger } from "../log.ts";
import { writeFileAtomic } from "../sync/atomic-file.ts";
import type { Onboarding } from "./from-stack.ts";
import { claimInvite, type Invite } from "./invite.ts";

/**
 * Makes a folder an onboarded agent's: the key into its named profile (the shared credentials file, mode
 * 0600), the folder configured completely from the stack — bucket, prefix, region, endpoint, the agent's
 * queue, its secret (for rotated keys), XMPP — and then created (`init`) or joined (`clone`) with only
 * that key. From here on nothing on this machine needs the administrator's credentials.
 */
export interface OnboardFolderOptions {
  description?: string;
  /** Settings from the command line (listen, poll interval, wanted…), applied over the stack's. */
  settings?: SettingValues;
  /** When the onboarding came from an invite: it is claimed first, and its agent id becomes the folder's. */
  invite?: Invite;
  log?: Logger;
}

export async function onboardFolder(
  mode: "init" | "clone",
  dir: string,
  onboarding: Onboarding,
  options: OnboardFolderOptions = {},
): Promise<SyncedFolder> {
  // Found fit before the key is written into the profile: a place no folder can be made in writes nothing.
  const root = await folderRoot(dir);
  const profile = profileNameFor(onboarding.stack, onboarding.agent);
  const description = options.description ?? undefined;
  const invite = options.invite;
  // Claimed only once the bucket and the folder were found fit: an invite is not spent on a refused init or clone.
  const claim = invite
    ? async () => claimInvite(invite, description ?? `${onboarding.agent} (invite)`, (await folderAgentId(root)) === invite.id)
    : undefined;
  await writeProfileKey(profile, onboarding.key);
  const url = formatRemoteUrl({ bucket: onboarding.bucket, prefix: onboarding.prefix, repo: onboarding.repo });
  const settings: SettingValues = {
    stack: onboarding.stack,
    queueUrl: onboarding.queueUrl,
    keySecret: onboarding.keySecret,
    ...(onboarding.xmpp ? { xmppService: onboarding.xmpp.service } : {}),
    ...(onboarding.xmpp?.jid ? { xmppJid: onboarding.xmpp.jid } : {}),
    ...options.settings,
  };
  const create = {
    ...(onboarding.endpoint ? { endpoint: onboarding.endpoint } : {}),
    region: onboarding.region,
    profile,
    ...(invite ? { agent: invite.id } : {}),
    ...(claim ? { beforeCreate: claim } : {}),
    ...(description ? { description } : {}),
    settings,
    ...(options.log ? { log: options.log } : {}),
  };
  const folder = mode === "init" ? await initFolder(root, url, create) : await cloneFolder(url, root, create);
  if (onboarding.xmpp?.password) {
    const stateDir = join(folder.gitDir, "cloudbridge");
    await mkdir(stateDir, { recursive: true });
    await writeFileAtomic(join(stateDir, "xmpp-password"), `${onboarding.xmpp.password}\n`, { mode: 0o600 });
  }
  return folder;
}

/** The agent id of the folder at `root`, if it is (or was becoming) one. */
async function folderAgentId(root: string): Promise<string | undefined> {
  const gitDir = join(root, ".git");
  if (!existsSync(gitDir)) return undefined;
  return getConfig(gitDir, AGENT_ID_KEY).catch(() => undefined);
}
