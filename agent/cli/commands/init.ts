import { describeLocation, initFolder, type FolderSettings } from "../../folder/index.ts";
import { CliError } from "../errors.ts";
import { cliLogger, emit, progress } from "../output.ts";
import { onboardFromFlags, wantsOnboarding, type OnboardingFlags } from "./onboarding-flags.ts";
import { settingsFrom, summarize } from "./shared.ts";

export async function initCommand(
  dir: string,
  options: OnboardingFlags & {
    remote?: string;
    region?: string;
    encrypt?: boolean;
    json?: boolean;
    adoptHistory?: boolean;
    newHistory?: boolean;
  },
): Promise<void> {
  if (options.adoptHistory && options.newHistory)
    throw new CliError("invalid-option", "--adopt-history and --new-history exclude each other: choose one.");
  const log = cliLogger({ quiet: true });
  const folder = wantsOnboarding(options, options.remote, "--remote URL")
    ? await onboardFromFlags("init", dir, options, log)
    : await initFolder(dir, options.remote!, {
        ...(options.endpoint ? { endpoint: options.endpoint } : {}),
        ...(options.region ? { region: options.region } : {}),
        ...(options.adoptHistory ? { history: "adopt" as const } : options.newHistory ? { history: "new" as const } : {}),
        ...(options.description ? { description: options.description } : {}),
        settings: settingsFrom(options),
        ...(options.encrypt ? { encrypt: true } : {}),
        log,
      });
  const remote = options.remote ?? describeLocation(folder.settings);
  try {
    const bar = progress("scanning", "files", { quiet: options.json === true });
    const report = await folder.engine.syncOnce({ onScanProgress: (n) => bar.update(n) });
    bar.stop();
    emit(
      options.json,
      { folder: folder.root, remote, agent: folder.settings.agent, profile: folder.settings.profile ?? null, ...report },
      () =>
        [
          `Created ${remote} and started syncing ${folder.root} (agent ${folder.settings.agent}).`,
          ...(folder.settings.profile ? [`This folder runs with the key in the profile ${folder.settings.profile} only.`] : []),
          summarize(report),
          "",
          ...(options.encrypt
            ? [
                "The repository is encrypted. To let another machine join: run `cloudbridge key show` there,",
                `then here: cloudbridge key add <its public key> ${dir}`,
              ]
            : []),
          folder.settings.stack
            ? `Join from another machine with: cloudbridge clone --stack ${folder.settings.stack} --agent NAME --repo ${folder.settings.location.repo} DIR`
            : `Join from another machine with: cloudbridge clone ${remote}${heardWith(folder.settings)} DIR`,
          `Keep it in sync with:          cloudbridge daemon ${dir}`,
        ].join("\n"),
    );
  } finally {
    folder.close();
  }
}

/** The settings by which another machine hears of changes as this one does (init's join hint); an agent's own XMPP account is its own. */
function heardWith(settings: FolderSettings): string {
  return [
    ...(settings.topicArn ? [` --topic-arn ${settings.topicArn}`] : []),
    ...(settings.xmppService ? [` --xmpp-service ${settings.xmppService}`] : []),
  ].join("");
}
