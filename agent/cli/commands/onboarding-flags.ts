import { rm } from "node:fs/promises";
import type { SyncedFolder } from "../../folder/index.ts";
import type { Logger } from "../../log.ts";
import { onboardingOf, readInvite } from "../../onboard/invite.ts";
import { onboardFolder } from "../../onboard/onboard-folder.ts";
import { CliError } from "../errors.ts";
import { settingsFrom, type FolderSettingsFlags } from "./shared.ts";

/** How init and clone are told to onboard from a deployed stack (administrator) or from an invite (no administrator here). */
export interface OnboardingFlags extends FolderSettingsFlags {
  stack?: string;
  agent?: string;
  repo?: string;
  invite?: string;
  endpoint?: string;
  description?: string;
}

/** True when the flags ask for onboarding; a wrong combination is refused naming what is missing. */
export function wantsOnboarding(flags: OnboardingFlags, plain: string | undefined, plainName: string): boolean {
  const stackFlags = [flags.stack, flags.agent, flags.repo].filter((v) => v !== undefined).length;
  const ways = [plain !== undefined, stackFlags > 0, flags.invite !== undefined].filter(Boolean).length;
  if (ways !== 1)
    throw new CliError("invalid-option", `give exactly one of ${plainName}, --stack NAME --agent NAME --repo REPO, or --invite FILE.`);
  if (stackFlags > 0 && stackFlags < 3) throw new CliError("invalid-option", "--stack needs --agent NAME and --repo REPO too.");
  return plain === undefined;
}

/**
 * Onboards `dir` as the flags say. An invite file is deleted once used: it holds the agent's key, and the
 * key now lives in the profile.
 */
export async function onboardFromFlags(mode: "init" | "clone", dir: string, flags: OnboardingFlags, log: Logger): Promise<SyncedFolder> {
  const common = {
    ...(flags.description ? { description: flags.description } : {}),
    settings: settingsFrom(flags),
    log,
  };
  if (flags.invite) {
    const invite = await readInvite(flags.invite);
    const folder = await onboardFolder(mode, dir, onboardingOf(invite), { ...common, invite });
    await rm(flags.invite, { force: true }).catch(() => undefined);
    return folder;
  }
  // Loaded here, by the one way that uses it: it brings the CloudFormation and Secrets Manager clients.
  const { readOnboarding } = await import("../../onboard/from-stack.ts");
  const onboarding = await readOnboarding({
    stack: flags.stack!,
    agent: flags.agent!,
    repo: flags.repo!,
    ...(flags.endpoint ? { endpoint: flags.endpoint } : {}),
    ...(flags.xmppJid ? { xmppJid: flags.xmppJid } : {}),
    ...(process.env.CLOUDBRIDGE_XMPP_PASSWORD ? { xmppPassword: process.env.CLOUDBRIDGE_XMPP_PASSWORD } : {}),
  });
  return onboardFolder(mode, dir, onboarding, common);
}
