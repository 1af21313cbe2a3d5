import { stat } from "node:fs/promises";
import { join } from "node:path";
import { helperFailure, helperFetch, helperList, helperPush } from "../gitstore/index.ts";
import { settingsDigest } from "../localgit/daemon-socket.ts";
import { parseRemoteUrl, type DaemonRequest, type RemoteAnswer } from "../protocol/index.ts";
import { readSettings, type FolderSettings, type SyncedFolder } from "./folder/index.ts";
import type { Logger } from "./log.ts";

type RemoteRequest = Extract<DaemonRequest, { ask: "remote-list" | "remote-push" | "remote-fetch" }>;

/**
 * The daemon's answers to the remote helper git starts in the folder (gitstore/remote-helper/through-daemon.ts):
 * `list`, `push` and `fetch` worked out by the helper's own code (gitstore/remote-helper/commands.ts) with
 * the daemon's warm S3 client and caches, a push or fetch between the daemon's rounds (the engine's `between`). Only
 * for the folder's own repository and with the settings the helper would use; anything else is declined
 * (`not-served`, `settings-differ`) before any work, and the helper does the work itself:
 *  - the remote URL names the folder's bucket, prefix and repository;
 *  - the helper's environment holds the same AWS settings, identity and home as the daemon's (a digest);
 *  - the folder's git config still says what the daemon opened the folder with (endpoint, region, profile,
 *    agent id, encryption), read again whenever `.git/config` changed, as the daemon's limits are.
 */
export function remoteRequests(folder: SyncedFolder, log: Logger): (request: RemoteRequest) => Promise<RemoteAnswer> {
  const { settings } = folder;
  const ownSettings = settingsDigest();
  let configChecked: { mtimeMs: number; same: boolean } | undefined;
  const configSame = async (): Promise<boolean> => {
    const mtimeMs = await stat(join(folder.gitDir, "config")).then(
      (s) => s.mtimeMs,
      () => -1,
    );
    if (configChecked?.mtimeMs !== mtimeMs) {
      const now = await readSettings(folder.root, folder.gitDir).catch(() => undefined);
      configChecked = { mtimeMs, same: now !== undefined && sameAccess(settings, now) };
    }
    return configChecked.same;
  };
  return async (request) => {
    log("debug", "helper.asked", { ask: request.ask });
    const declined = (code: string, message: string) => Object.assign(new Error(message), { code });
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
    if (!(await configSame())) throw declined("settings-differ", "the folder's settings changed since the daemon opened it");
    const progress: string[] = [];
    const ctx = {
      store: folder.store,
      layout: folder.layout,
      repo: own.repo,
      gitDir: folder.gitDir,
      log: (line: string) => progress.push(line),
    };
    const start = performance.now();
    try {
      if (request.ask === "remote-list") return await helperList(ctx, !request.forPush);
      if (request.ask === "remote-fetch") {
        const output = await folder.engine.between(() => helperFetch(ctx, request.commands));
        log("debug", "helper.fetched", { refs: request.commands.length, ms: Math.round(performance.now() - start) });
        return { output, stderr: [], progress };
      }
      const output = await folder.engine.between(() => helperPush(ctx, request.commands, request.dryRun, async () => settings.agent));
      log("debug", "helper.pushed", { refs: request.commands.length, ms: Math.round(performance.now() - start) });
      return { output, stderr: [], progress };
    } catch (error) {
      throw Object.assign(new Error(helperFailure(error)), { code: "failed" });
    }
  };
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
