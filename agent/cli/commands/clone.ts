import { cloneFolder, describeLocation, finishClone } from "../../folder/index.ts";
import { cliLogger, emit, progress } from "../output.ts";
import { onboardFromFlags, wantsOnboarding, type OnboardingFlags } from "./onboarding-flags.ts";
import { settingsFrom, summarize } from "./shared.ts";
import { refuseIncomplete } from "./sync-report.ts";

export async function cloneCommand(
  first: string,
  second: string | undefined,
  options: OnboardingFlags & { region?: string; json?: boolean },
): Promise<void> {
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
    // The folder is made and synced as far as it could be; what was not is an error a script sees, as for sync.
    await refuseIncomplete(report);
  } finally {
    folder.close();
  }
}
