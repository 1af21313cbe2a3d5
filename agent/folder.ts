import { readdir } from "node:fs/promises";
import { join, resolve } from "node:path";
import { PreconditionFailed, type ObjectStore } from "../objectstore/object-store.ts";
import { createS3Client, probeConditionalWrites, S3ObjectStore } from "../objectstore/s3-object-store.ts";
import { BucketLayout, LAYOUT_FORMAT, type FormatMarker } from "../protocol/layout.ts";
import { formatRemoteUrl, parseRemoteUrl, type RemoteLocation } from "../protocol/remote-url.ts";
import { Annex } from "./annex/annex.ts";
import { AnnexBranch, ANNEX_BRANCH } from "./annex/annex-branch.ts";
import { ensureCloudUuid, recordCloudRemote, recordRepository } from "./annex/cloud-remote.ts";
import type { CloudContent } from "./annex/transfer-settings.ts";
import { readBucketRefs } from "./git/bucket-refs.ts";
import type { Logger } from "./log.ts";
import { AGENT_VERSION } from "./presence.ts";
import { ensureAgentId, readSettings, SettingsError, writeSettings, type FolderSettings } from "./settings.ts";
import { AnnexContent } from "./sync/annex-content.ts";
import { BucketRemote } from "./sync/bucket-remote.ts";
import { SyncEngine, type SideBranch } from "./sync/engine.ts";
import { LocalRepo } from "./sync/local-repo.ts";
import { TransferQueue } from "./sync/transfer-queue.ts";

/**
 * A synced folder with everything wired: settings from its git config, the bucket, the local repository
 * and stat cache, the annex, the transfer queue and the sync engine. `initFolder` and `cloneFolder` make
 * a folder one (first machine / joining machine).
 */
export interface Folder {
  readonly root: string;
  readonly settings: FolderSettings;
  readonly store: S3ObjectStore;
  readonly layout: BucketLayout;
  readonly repo: LocalRepo;
  readonly annex: Annex;
  readonly content: AnnexContent;
  readonly engine: SyncEngine;
  close(): void;
}

export class FolderError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "FolderError";
  }
}

function storeFor(location: RemoteLocation, endpoint: string | undefined): S3ObjectStore {
  return new S3ObjectStore(location.bucket, createS3Client(endpoint ? { endpoint } : {}));
}

export async function openFolder(folder: string, options: { log?: Logger } = {}): Promise<Folder> {
  const root = resolve(folder);
  if (!(await LocalRepo.isRepo(root))) {
    throw new SettingsError(
      `${root} is not a cloudbridge folder: run \`cloudbridge init ${folder} --remote s3://BUCKET/REPO\` or \`cloudbridge clone s3://BUCKET/REPO ${folder}\`.`,
    );
  }
  const settings = await readSettings(root);
  const store = storeFor(settings.location, settings.endpoint);
  const layout = new BucketLayout(settings.location.prefix);
  const log = options.log ?? (() => undefined);
  const repo = await new LocalRepo(
    root,
    { name: settings.description, email: `${settings.agent}@cloudbridge` },
    {
      onWait: (owner) =>
        log("warn", "folder.busy", { owner, message: `waiting for cloudbridge (pid ${owner}) to finish its work on this folder` }),
    },
  ).open();
  const gitDir = repo.git.gitDir;
  const cloud: CloudContent = { store, layout, repo: settings.location.repo };
  const cloudUuid = (await repo.git.config("cloudbridge.clouduuid")) ?? (await rememberCloudUuid(repo, cloud));
  const annex = new Annex({ gitDir, uuid: settings.agent, cloud, cloudUuid });
  const queue = new TransferQueue(repo.stateDir);
  const content = new AnnexContent(annex, queue, {
    largefiles: settings.largefiles,
    wanted: settings.wanted,
    place: async (path, key) => void (await repo.placeContent(path, key, content)),
    log: (event, fields) => log("warn", event, fields),
  });
  const branch = new AnnexBranch(gitDir);
  const side: SideBranch = {
    ref: ANNEX_BRANCH,
    head: () => branch.head(),
    merge: async (ours, theirs) => (await branch.unionMerge(ours, theirs)) ?? theirs,
    advance: (oid, old) => branch.compareAndSwap(oid, old),
  };
  const remote = new BucketRemote({ store, layout, repo: settings.location.repo, gitDir }, settings.agent);
  const engine = new SyncEngine(repo, remote, {
    annex: content,
    content,
    side,
    log: (event, fields) => log(event.startsWith("refused") || event === "unwritable" ? "error" : "info", event, fields),
  });
  return { root, settings, store, layout, repo, annex, content, engine, close: () => store.client.destroy() };
}

async function rememberCloudUuid(repo: LocalRepo, cloud: CloudContent): Promise<string> {
  const uuid = await ensureCloudUuid(cloud);
  await repo.git.setConfig("cloudbridge.clouduuid", uuid);
  return uuid;
}

export interface CreateOptions {
  endpoint?: string;
  description?: string;
  settings?: Parameters<typeof writeSettings>[1];
  log?: Logger;
}

/** First machine: creates the repository in the bucket and makes `dir` (existing files and all) its first folder. */
export async function initFolder(dir: string, url: string, options: CreateOptions = {}): Promise<Folder> {
  const root = resolve(dir);
  const location = parseRemoteUrl(url);
  if (await LocalRepo.isRepo(root)) throw new FolderError(`${root} is already a cloudbridge folder; run \`cloudbridge sync ${dir}\`.`);
  const store = storeFor(location, options.endpoint);
  const layout = new BucketLayout(location.prefix);
  try {
    if (await repositoryExists(store, layout, location.repo)) {
      throw new FolderError(`${formatRemoteUrl(location)} already exists in the bucket: join it with \`cloudbridge clone ${url} ${dir}\`.`);
    }
    await ensureDeployment(store, layout, location);
  } finally {
    store.client.destroy();
  }
  await createLocal(root, location, options);
  return openFolder(root, options.log ? { log: options.log } : {});
}

/** Another machine: joins the repository at `url` in the (empty or new) folder `dir`. */
export async function cloneFolder(url: string, dir: string, options: CreateOptions = {}): Promise<Folder> {
  const root = resolve(dir);
  const location = parseRemoteUrl(url);
  const entries = await readdir(root).catch(() => [] as string[]);
  if (entries.length > 0)
    throw new FolderError(
      `${root} is not empty: clone into a new or empty folder (or run \`cloudbridge init\` there for a new repository).`,
    );
  const store = storeFor(location, options.endpoint);
  try {
    if (!(await repositoryExists(store, new BucketLayout(location.prefix), location.repo))) {
      throw new FolderError(
        `there is no repository at ${formatRemoteUrl(location)} yet: create it with \`cloudbridge init DIR --remote ${url}\` on the first machine.`,
      );
    }
  } finally {
    store.client.destroy();
  }
  await createLocal(root, location, options);
  return openFolder(root, options.log ? { log: options.log } : {});
}

async function createLocal(root: string, location: RemoteLocation, options: CreateOptions): Promise<void> {
  await LocalRepo.create(root);
  const agent = await ensureAgentId(root);
  await writeSettings(root, {
    bucket: location.bucket,
    prefix: location.prefix,
    repo: location.repo,
    ...(options.endpoint ? { endpoint: options.endpoint } : {}),
    ...(options.description ? { description: options.description } : {}),
    ...options.settings,
  });
  const settings = await readSettings(root);
  const store = storeFor(location, options.endpoint);
  try {
    const layout = new BucketLayout(location.prefix);
    const gitDir = join(root, ".git");
    const cloudUuid = await ensureCloudUuid({ store, layout, repo: location.repo });
    const branch = new AnnexBranch(gitDir);
    await recordRepository(branch, agent, settings.description);
    await recordCloudRemote(branch, cloudUuid, {
      bucket: location.bucket,
      fileprefix: layout.annexRoot(location.repo),
      endpoint: options.endpoint ?? process.env.AWS_ENDPOINT_URL_S3 ?? process.env.AWS_ENDPOINT_URL,
      region: (await store.client.config.region()) ?? "us-east-1",
    });
    await new LocalRepo(root).git.setConfig("cloudbridge.clouduuid", cloudUuid);
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
