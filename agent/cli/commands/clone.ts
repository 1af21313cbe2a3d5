import type { Command } from "commander";
import { cloneFolder, describeLocation, finishClone } from "../../folder/index.ts";
import { cliLogger, emit, progress } from "../output.ts";
import { onboardFromFlags, onboardingOptions, wantsOnboarding, type OnboardingFlags } from "./onboarding-flags.ts";
import { folderSettingsOptions, settingsFrom, summarize } from "./shared.ts";

export function cloneCommand(program: Command): void {
  const command = program
    .command("clone")
    .description(
      "Another machine: join the repository at URL in DIR and download its files (files already in DIR are kept: a different version of a file the repository has becomes name.variant-XXXX.ext); run it again to finish an interrupted clone.",
    )
    .argument("<url-or-dir>", "s3://BUCKET[/PREFIX]/REPO, then DIR (with --stack or --invite: DIR only)")
    .argument("[dir]", "the folder to create, or a folder with files (not a git repository)")
    .option("--endpoint <url>", "an S3-compatible endpoint (default: the AWS SDK's configuration; stored in the folder)")
    .option("--region <region>", "the bucket's region (default: the AWS SDK's configuration; stored in the folder)")
    .option("--description <text>", "how this machine is named to the others (default: user on host: folder name)")
    .option("--json", "print the result as JSON");
  onboardingOptions(folderSettingsOptions(command)).action(
    async (first: string, second: string | undefined, options: OnboardingFlags & { region?: string; json?: boolean }) => {
      const log = cliLogger({ quiet: true });
      const dir = second ?? first;
      const folder = wantsOnboarding(options, second === undefined ? undefined : first, "URL DIR")
        ? await onboardFromFlags("clone", dir, options, log)
        : await cloneFolder(first, dir, {
            ...(options.endpoint ? { endpoint: options.endpoint } : {}),
            ...(options.region ? { region: options.region } : {}),
            ...(options.description ? { description: options.description } : {}),
            settings: settingsFrom(options),
            log,
          });
      const url = second === undefined ? describeLocation(folder.settings) : first;
      try {
        const first = await finishClone(folder);
        const bar = progress("scanning", "files", { quiet: options.json === true });
        const synced = await folder.engine.syncOnce({ onScanProgress: (n) => bar.update(n) });
        bar.stop();
        const report = first
          ? {
              ...synced,
              written: first.written + synced.written,
              deleted: first.deleted + synced.deleted,
              // the sync's list is every path still refused, those the first checkout refused included
              refused: synced.refused,
            }
          : synced;
        emit(options.json, { folder: folder.root, remote: url, agent: folder.settings.agent, ...report }, () =>
          [
            `Joined ${url} in ${folder.root} (agent ${folder.settings.agent}).`,
            ...(folder.settings.profile ? [`This folder runs with the key in the profile ${folder.settings.profile} only.`] : []),
            summarize(report),
            "",
            `Keep it in sync with: cloudbridge daemon ${dir}`,
          ].join("\n"),
        );
      } finally {
        folder.close();
      }
    },
  );
}
