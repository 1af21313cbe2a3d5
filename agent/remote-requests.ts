import { helperFailure, helperFetch, helperList, helperPush, openHelperRepository } from "../gitstore/index.ts";
import { settingsDigest } from "../localgit/daemon-socket.ts";
import { parseRemoteUrl, type DaemonRequest, type RemoteAnswer } from "../protocol/index.ts";
import { isAuthFailure } from "./credentials/agent-key.ts";
import { settingsWhenChanged, type FolderSettings, type SyncedFolder } from "./folder/index.ts";
import type { Logger } from "./log.ts";

type RemoteRequest = Extract<DaemonRequest, { ask: "remote-list" | "remote-push" | "remote-fetch" }>;

/**
 * The daemon's answers to the remote helper git starts in the folder (gitstore/remote-helper/through-daemon.ts):
 * `list`, `push` and `fetch` worked out by the helper's own code (gitstore/remote-helper/commands.ts), over
 * the repository opened as the helper opens it (its S3 client and settings) but once, kept warm with its
 * connections, a push or fetch between the daemon's rounds (the engine's `between`). Only
 * for the folder's own repository and with the settings the helper would use; anything else is declined
 * (`not-served`, `settings-differ`) before any work, and the helper does the work itself, as it does when
 * the bucket refuses the key the daemon holds (rotated since the daemon read it):
 *  - the remote URL names the folder's bucket, prefix and repository;
 *  - the helper's environment holds the same AWS settings, identity and home as the daemon's (a digest);
 *  - the folder's git config still says what the daemon opened the folder with (endpoint, region, profile,
 *    agent id, encryption), read again whenever `.git/config` changed, as the daemon's limits are.
 */
export function remoteRequests(
  folder: SyncedFolder,
  log: Logger,
): { answer: (request: RemoteRequest) => Promise<RemoteAnswer>; close: () => Promise<void> } {
  const { settings } = folder;
  let opened: ReturnType<typeof openHelperRepository> | undefined;
  const repository = () => {
    const opening = (opened ??= openHelperRepository(settings.location, folder.layout, folder.gitDir));
    // A failure (the bucket unreachable) is said to this helper and tried again for the next one.
    opening.catch(() => (opened === opening ? (opened = undefined) : undefined));
    return opening;
  };
  const ownSettings = settingsDigest();
  const readChangedSettings = settingsWhenChanged(folder.root, folder.gitDir);
  let configSame = false;
  const configStillSame = async (): Promise<boolean> => {
    const now = await readChangedSettings();
    if (now.changed) configSame = now.settings !== undefined && sameAccess(settings, now.settings);
    return configSame;
  };
  const answer = async (request: RemoteRequest): Promise<RemoteAnswer> => {
    log("debug", "helper.asked", { ask: request.ask });
    const declined = (code: string, message: string) => {
      log("debug", "helper.declined", { ask: request.ask, code, message });
      return Object.assign(new Error(message), { code });
    };
    let location;
    try {
      location = parseRemoteUrl(request.url);
    } catch (error) {
      throw declined("not-served", (error as Error).message);
    }
    const own = settings.location;
    if (location.bucket !== own.bucket || location.prefix !== own.prefix || location.repo !== own.repo)
      throw declined("not-served", `this daemon serves ${own.bucket}/${own.prefix}${own.repo}, not ${request.url}`);
    if (request.settings !== ownSettings)
      throw declined("settings-differ", "the daemon runs with other AWS settings or another identity than this command");
    if (!(await configStillSame())) throw declined("settings-differ", "the folder's settings changed since the daemon opened it");
    const progress: string[] = [];
    const start = performance.now();
    const cpu = process.cpuUsage();
    const done = (event: string, refs: number) =>
      log("debug", event, { refs, ms: Math.round(performance.now() - start), cpuMs: Math.round(cpuMs(process.cpuUsage(cpu))) });
    try {
      const { store } = await repository();
      const ctx = { store, layout: folder.layout, repo: own.repo, gitDir: folder.gitDir, log: (line: string) => progress.push(line) };
      if (request.ask === "remote-list") {
        const listed = await helperList(ctx, !request.forPush);
        done("helper.listed", 0);
        return listed;
      }
      if (request.ask === "remote-fetch") {
        const output = await folder.engine.between(() => helperFetch(ctx, request.commands));
        done("helper.fetched", request.commands.length);
        return { output, stderr: [], progress };
      }
      const output = await folder.engine.between(() => helperPush(ctx, request.commands, request.dryRun, async () => settings.agent));
      done("helper.pushed", request.commands.length);
      return { output, stderr: [], progress };
    } catch (error) {
      // The bucket refused the key this daemon holds (rotated since it read it): the helper, which reads the
      // key now, does the work; the repository is opened again, with the key as it is then, for the next one.
      if (isAuthFailure(error)) {
        const refused = opened;
        opened = undefined;
        void refused?.then(({ s3 }) => s3.destroy()).catch(() => undefined);
        throw declined("settings-differ", `the bucket refused the daemon's key (${helperFailure(error)})`);
      }
      throw Object.assign(new Error(helperFailure(error)), { code: "failed" });
    }
  };
  return {
    answer,
    close: async () => {
      (await opened?.catch(() => undefined))?.s3.destroy();
    },
  };
}

/** User + system CPU time of a process.cpuUsage() difference, in ms (what the daemon's process spent; git's processes aside). */
function cpuMs(usage: NodeJS.CpuUsage): number {
  return (usage.user + usage.system) / 1000;
}

/** Whether the folder's settings now reach the bucket as those the daemon opened it with. */
function sameAccess(opened: FolderSettings, now: FolderSettings): boolean {
  const same = (a: unknown, b: unknown) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
  return (
    same(opened.location, now.location) &&
    same(opened.endpoint, now.endpoint) &&
    same(opened.region, now.region) &&
    same(opened.profile, now.profile) &&
    opened.agent === now.agent &&
    // A folder made before encryption was recorded has it recorded at its first open.
    (opened.encrypted === undefined || same(opened.encrypted, now.encrypted))
  );
}
