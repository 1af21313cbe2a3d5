import { readdir } from "node:fs/promises";
import { join, resolve } from "node:path";
import { PreconditionFailed, type ObjectStore, probeConditionalWrites } from "../../objectstore/index.ts";
import {
  BucketLayout,
  LAYOUT_FORMAT,
  type FormatMarker,
  formatRemoteUrl,
  parseRemoteUrl,
  type RemoteLocation,
} from "../../protocol/index.ts";
import { AnnexBranch, ensureCloudUuid, recordCloudRemote, recordRepository } from "../../annex/index.ts";
import { agentIdFor, readBucketRefs } from "../../gitstore/index.ts";
import type { Logger } from "../log.ts";
import { AGENT_VERSION } from "../presence.ts";
import type { SyncReport } from "../sync/engine.ts";
import { LocalRepo, MAIN_REF } from "../sync/local-repo.ts";
import { clearCloneState, readCloneState, writeCloneState } from "./clone-state.ts";
import { readSettings, writeSettings, type SettingValues } from "./config.ts";
import { FolderError } from "./errors.ts";
import { openSyncedFolder, storeFor, type SyncedFolder } from "./open.ts";

/** `initFolder` and `cloneFolder` make a directory a cloudbridge folder (first machine / joining machine). */
export interface CreateOptions {
  endpoint?: string;
  description?: string;
  settings?: SettingValues;
  log?: Logger;
}

/** First machine: creates the repository in the bucket and makes `dir` (existing files and all) its first folder. */
export async function initFolder(dir: string, url: string, options: CreateOptions = {}): Promise<SyncedFolder> {
  const root = resolve(dir);
  const location = parseRemoteUrl(url);
  const store = storeFor({ location, endpoint: options.endpoint, region: undefined });
  const layout = new BucketLayout(location.prefix);
  try {
    // An init of this same repository that stopped before anything reached the bucket is carried on, never
    // refused: its folder is half made, and the retry is how a person finishes it.
    if (await LocalRepo.isRepo(root)) {
      const configured = await readSettings(root).then(
        (s) => formatRemoteUrl(s.location),
        () => undefined,
      );
      // (no settings yet: stopped while the folder was being made)
      if ((configured !== undefined && configured !== formatRemoteUrl(location)) || (await repositoryExists(store, layout, location.repo)))
        throw new FolderError("already-a-folder", `${root} is already a cloudbridge folder; run \`cloudbridge sync ${dir}\`.`);
    }
    if (await repositoryExists(store, layout, location.repo)) {
      throw new FolderError(
        "repository-exists",
        `${formatRemoteUrl(location)} already exists in the bucket: join it with \`cloudbridge clone ${url} ${dir}\`.`,
      );
    }
    await ensureDeployment(store, layout, location);
  } finally {
    store.client.destroy();
  }
  await createLocal(root, location, options);
  return openSyncedFolder(root, options.log ? { log: options.log } : {});
}

/**
 * Another machine: joins the repository at `url` in the (empty or new) folder `dir`, or carries on with a
 * clone of the same URL that was interrupted there (clone-state.ts). The caller then runs `finishClone`.
 */
export async function cloneFolder(url: string, dir: string, options: CreateOptions = {}): Promise<SyncedFolder> {
  const root = resolve(dir);
  const location = parseRemoteUrl(url);
  const entries = await readdir(root).catch(() => [] as string[]);
  const unfinished = entries.length > 0 ? await readCloneState(root) : undefined;
  if (unfinished && unfinished.url !== formatRemoteUrl(location)) {
    throw new FolderError(
      "clone-unfinished",
      `${root} is an interrupted clone${unfinished.url ? ` of ${unfinished.url}` : ""}, not of ${url}: finish that one, or clone into another folder.`,
    );
  }
  if (entries.length > 0 && !unfinished)
    throw new FolderError(
      "folder-not-empty",
      `${root} is not empty: clone into a new or empty folder (or run \`cloudbridge init\` there for a new repository).`,
    );
  const store = storeFor({ location, endpoint: options.endpoint, region: undefined });
  try {
    if (!(await repositoryExists(store, new BucketLayout(location.prefix), location.repo))) {
      throw new FolderError(
        "no-such-repository",
        `there is no repository at ${formatRemoteUrl(location)} yet: create it with \`cloudbridge init DIR --remote ${url}\` on the first machine.`,
      );
    }
  } finally {
    store.client.destroy();
  }
  // Recorded before anything else is written, so that an interruption anywhere leaves a folder that says so.
  if (!unfinished) await writeCloneState(root, { url: formatRemoteUrl(location) });
  await createLocal(root, location, options);
  return openSyncedFolder(root, { ...(options.log ? { log: options.log } : {}), finishingClone: true });
}

/**
 * The rest of a clone, after `cloneFolder`: the folder takes the bucket's main — or, when an interrupted
 * clone was writing another commit, that one first (its files are the ones already here) — before
 * anything in it is committed; then it is a synced folder like any other. Files already written are
 * kept (re-hashed by the next round, not written again); a file a person put there meanwhile is kept and
 * committed on top by the next round.
 */
export async function finishClone(folder: SyncedFolder): Promise<SyncReport | undefined> {
  const state = await readCloneState(folder.root);
  if (!state) return undefined;
  let target = state.target && (await folder.repo.git.revParse(state.target)) ? state.target : undefined;
  if (!target) {
    target = (await folder.engine.remote.fetch()).get(MAIN_REF);
    if (target) await writeCloneState(folder.root, { ...state, target });
  }
  const report = target && folder.repo.cache.commit !== target ? await folder.engine.takeRemote(target) : undefined;
  await clearCloneState(folder.root);
  return report;
}

async function createLocal(root: string, location: RemoteLocation, options: CreateOptions): Promise<void> {
  await LocalRepo.create(root);
  const gitDir = join(root, ".git");
  const agent = await agentIdFor(gitDir, { folder: true });
  await writeSettings(gitDir, {
    bucket: location.bucket,
    prefix: location.prefix,
    repo: location.repo,
    ...(options.endpoint ? { endpoint: options.endpoint } : {}),
    ...(options.description ? { description: options.description } : {}),
    ...options.settings,
  });
  const settings = await readSettings(root, gitDir);
  const store = storeFor(settings);
  try {
    const layout = new BucketLayout(location.prefix);
    const cloudUuid = await ensureCloudUuid({ store, layout, repo: location.repo });
    const branch = new AnnexBranch(gitDir);
    await recordRepository(branch, agent, settings.description);
    await recordCloudRemote(branch, cloudUuid, {
      bucket: location.bucket,
      fileprefix: layout.annexRoot(location.repo),
      endpoint: options.endpoint ?? process.env.AWS_ENDPOINT_URL_S3 ?? process.env.AWS_ENDPOINT_URL,
      region: (await store.client.config.region()) ?? "us-east-1",
    });
    await writeSettings(gitDir, { cloudUuid });
  } finally {
    store.client.destroy();
  }
}
async function repositoryExists(store: ObjectStore, layout: BucketLayout, repo: string): Promise<boolean> {
  const refs = await readBucketRefs(store, layout, repo);
  return refs.shared.size > 0 || refs.synced.size > 0 || (await store.head(layout.head(repo))) !== undefined;
}

/** The deployment's format marker and README, written once (If-None-Match: *); an existing marker must be format 1. */
async function ensureDeployment(store: ObjectStore, layout: BucketLayout, location: RemoteLocation): Promise<void> {
  const existing = await store.get(layout.formatMarker());
  if (existing && existing !== "not-modified") {
    let format: unknown;
    try {
      format = (JSON.parse(existing.body.toString()) as FormatMarker).format;
    } catch {
      format = undefined;
    }
    if (format !== LAYOUT_FORMAT) {
      throw new FolderError(
        "unsupported-format",
        `s3://${location.bucket}/${layout.formatMarker()} says format ${JSON.stringify(format)}; this cloudbridge writes format ${LAYOUT_FORMAT}: use a newer cloudbridge or another prefix.`,
      );
    }
    return;
  }
  const conditionalWrites = await probeConditionalWrites(store, `${layout.prefix}cloudbridge-probe/${Date.now()}-${process.pid}`);
  const marker: FormatMarker = {
    format: LAYOUT_FORMAT,
    createdBy: `cloudbridge ${AGENT_VERSION}`,
    createdAt: new Date().toISOString(),
    conditionalWrites,
  };
  for (const [key, body, type] of [
    [layout.formatMarker(), `${JSON.stringify(marker, null, 2)}\n`, "application/json"],
    [layout.readme(), readmeText(layout, conditionalWrites), "text/plain; charset=utf-8"],
  ] as const) {
    try {
      await store.put(key, body, { ifNoneMatch: "*", contentType: type });
    } catch (error) {
      if (!(error instanceof PreconditionFailed)) throw error; // another machine wrote it first: fine
    }
  }
}

function readmeText(layout: BucketLayout, conditionalWrites: boolean): string {
  const p = layout.prefix;
  return `This part of the bucket is kept by cloudbridge, which keeps folders in sync between machines.
Please do not edit or delete objects here by hand: the machines syncing through it rely on them.

  ${p}cloudbridge.json        format marker (format ${LAYOUT_FORMAT})
  ${p}repos/<repo>.git/       each synced folder's history, as a bare git repository:
                              copy it to disk and \`git clone\` it to read it without cloudbridge
  ${p}annex/<repo>/<KEY>      large files, named by their content hash (git-annex S3 layout)
  ${p}agents/<repo>/<id>.json the machines syncing each folder and when they were last seen

${conditionalWrites ? "This store supports conditional writes: concurrent changes are merged safely." : "WARNING: this store did not honour conditional writes when cloudbridge checked; concurrent pushes\nare kept in each machine's refs/synced/ refs, but the shared branch is best-effort."}
`;
}
