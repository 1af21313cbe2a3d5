import { execFile } from "node:child_process";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import {
  accessEndpoint,
  awsClientConfig,
  bucketStore,
  type MultipartStore,
  type ObjectStore,
  createS3Client,
  repositoryStore,
  S3ObjectStore,
} from "../../objectstore/index.ts";
import { BucketLayout } from "../../protocol/index.ts";
import {
  ANNEX_BRANCH,
  Annex,
  AnnexBranch,
  ensureCloudUuid,
  RateLimiter,
  registerFolder,
  unsafeBranchPathReason,
  type CloudContent,
} from "../../annex/index.ts";
import type { Logger } from "../log.ts";
import { AnnexContent, placeAtPointers, type TransferProgress } from "../sync/annex-content.ts";
import { BucketRemote } from "../sync/bucket-remote.ts";
import { publishAnnexBranch, receiveAnnexBranch, type AnnexBranchContext } from "../sync/cloud-branch-sync.ts";
import { SyncEngine, type SideBranch } from "../sync/engine.ts";
import type { TimedLook } from "../sync/index-look.ts";
import { LocalRepo, MAIN_REF } from "../sync/local-repo.ts";
import { readCloneState } from "./clone-state.ts";
import { isFolder } from "./find.ts";
import { TransferQueue } from "../sync/transfer-queue.ts";
import { gitFor, readSettings, SETTING_NAMES, writeSettings, type CloudSettings, type FolderSettings } from "./config.ts";
import { FolderError, notAFolderAt } from "./errors.ts";
import { recordWantedOnce } from "./wanted-recorded.ts";

/**
 * A cloudbridge folder, assembled in one place for every command: its settings (config.ts), the bucket
 * and the annex. `openFolder` is what the annex commands need; `openSyncedFolder` adds the local
 * repository, stat cache, transfer queue and sync engine for the daemon, `sync`, `status`, init and clone.
 */
export interface Folder {
  readonly root: string;
  readonly gitDir: string;
  readonly settings: FolderSettings;
  readonly store: ObjectStore & MultipartStore;
  readonly layout: BucketLayout;
  readonly annex: Annex;
  /** Fetches the shared git-annex branch and merges it into the local one. */
  receiveAnnexBranch(): Promise<void>;
  close(): void;
}

export interface SyncedFolder extends Folder {
  readonly repo: LocalRepo;
  readonly content: AnnexContent;
  readonly engine: SyncEngine;
}

export interface OpenOptions {
  log?: Logger;
  /** The repository's git directory when it is not `<root>/.git` (a linked work tree). */
  gitDir?: string;
  /** Push the git-annex branch to the bucket right after each transfer (the annex commands; the engine pushes it in its rounds). */
  publishAnnexBranch?: boolean;
  /** Wraps the bucket store (tests inject delays and faults this way). */
  wrapStore?: (store: S3ObjectStore) => ObjectStore & MultipartStore;
  /** Told of transfers' progress (the daemon's page). */
  transferProgress?: TransferProgress;
  /**
   * The folder is opened for one command in a process that then exits (`cloudbridge sync` with no daemon):
   * the bucket is reached through the light S3 client when the settings are plain, as the remote helper
   * reaches it (objectstore's bucketStore), so the AWS SDK's S3 module (~50 ms to load) is loaded only if a
   * request needs it (a multipart upload). A daemon keeps the SDK's client.
   */
  oneCommand?: boolean;
  /**
   * The command scans the whole folder (a sync with no daemon): git's index is asked which files to look at
   * (agent/sync/index-look.ts) instead of looking at every file, git's look starting as the folder opens. Not
   * for a command that scans nothing or only its own paths: its process would wait for a look it never uses.
   */
  lookThroughIndex?: boolean;
  /**
   * With `lookThroughIndex`: git's look at the folder, started by the command before it opened the folder
   * (agent/sync/index-look.ts, `startLook`), which the folder's first scan takes if it can be trusted.
   */
  look?: Promise<TimedLook | undefined>;
}

/** The git repository around `cwd` (a command run in a subdirectory), or undefined outside one. */
export async function findRepository(cwd: string): Promise<{ gitDir: string; workTree: string } | undefined> {
  try {
    const { stdout } = await promisify(execFile)("git", ["rev-parse", "--absolute-git-dir", "--show-toplevel"], { cwd, encoding: "utf8" });
    const [gitDir, workTree] = stdout.trim().split("\n");
    return gitDir && workTree ? { gitDir, workTree } : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The bucket's store for these settings, applied as every client of the folder applies them (objectstore's
 * awsClientConfig, which the remote helper git runs in the folder applies too).
 */
export function storeFor(cloud: Pick<CloudSettings, "location" | "endpoint" | "region"> & { profile?: string | undefined }): S3ObjectStore {
  return new S3ObjectStore(cloud.location.bucket, createS3Client(awsClientConfig(cloud)), accessEndpoint(cloud));
}

/**
 * The bucket's store for a folder opened by this process: for a process that runs one command and exits
 * (`oneCommand`, OpenOptions.oneCommand), the light client when the settings are plain; else storeFor's.
 */
export async function bucketStoreFor(
  cloud: Pick<CloudSettings, "location" | "endpoint" | "region" | "profile">,
  { oneCommand }: { oneCommand: boolean },
): Promise<S3ObjectStore> {
  if (!oneCommand) return storeFor(cloud);
  const { location, endpoint, region, profile } = cloud;
  return bucketStore(location.bucket, { endpoint, region, profile });
}

export async function openFolder(dir: string, options: OpenOptions = {}): Promise<Folder> {
  const root = resolve(dir);
  const gitDir = options.gitDir ?? join(root, ".git");
  const settings = await readSettings(root, gitDir);
  const s3 = await bucketStoreFor(settings, { oneCommand: options.oneCommand === true });
  try {
    const layout = new BucketLayout(settings.location.prefix);
    // An encrypted repository is read and written through its keys; a clear one through the bucket itself.
    // What the folder recorded decides (objectstore's repositoryEncryption): a clear folder asks nothing
    // (status works offline), and an encrypted one whose key ring went missing refuses rather than write in clear.
    const bucket = options.wrapStore ? options.wrapStore(s3) : s3;
    const store = await repositoryStore(bucket, layout, settings.location.repo, { recorded: settings.encrypted });
    // A folder made before the choice was recorded: the bucket's answer now is recorded once.
    if (settings.encrypted === undefined) await writeSettings(gitDir, { encrypted: String(store !== bucket) });
    const cloud: CloudContent = { store, layout, repo: settings.location.repo };
    const cloudUuid = settings.cloudUuid ?? (await rememberCloudUuid(gitDir, cloud));
    const branchContext: AnnexBranchContext = { store, layout, repo: settings.location.repo, gitDir, agent: settings.agent };
    // Files the annex commands prepare beside their destination are journaled, so a daemon leaves them alone.
    registerFolder(root, join(gitDir, "cloudbridge"));
    const annex = new Annex({
      gitDir,
      uuid: settings.agent,
      cloud,
      cloudUuid,
      limits: { up: new RateLimiter(settings.uploadLimit), down: new RateLimiter(settings.downloadLimit) },
      ...(options.publishAnnexBranch ? { publish: () => publishAnnexBranch(branchContext) } : {}),
    });
    return {
      root,
      gitDir,
      settings,
      store,
      layout,
      annex,
      receiveAnnexBranch: () => receiveAnnexBranch(branchContext),
      close: () => s3.destroy(),
    };
  } catch (error) {
    s3.destroy();
    throw error;
  }
}

/** The cloud's UUID is in the bucket; the folder remembers it so later commands need not ask. */
async function rememberCloudUuid(gitDir: string, cloud: CloudContent): Promise<string> {
  const uuid = await ensureCloudUuid(cloud);
  // A cache only: another process may hold .git/config this instant.
  await gitFor(gitDir)
    .setConfig(SETTING_NAMES.cloudUuid, uuid)
    .catch(() => undefined);
  return uuid;
}

export async function openSyncedFolder(
  dir: string,
  options: Omit<OpenOptions, "gitDir" | "publishAnnexBranch"> & { finishingClone?: boolean } = {},
): Promise<SyncedFolder> {
  const root = resolve(dir);
  if (!(await isFolder(root))) throw await notAFolderAt(root, dir);
  const cloning = await readCloneState(root);
  if (cloning && !options.finishingClone) {
    throw new FolderError(
      "clone-unfinished",
      `${root} is an interrupted clone${cloning.url ? ` of ${cloning.url}` : ""}: its files are not all there, so it is not synced. ` +
        `Finish it with \`cloudbridge clone ${cloning.url || "URL"} ${dir}\` (nothing is downloaded twice).`,
    );
  }
  const folder = await openFolder(root, options);
  try {
    const { settings, gitDir, annex } = folder;
    const log = options.log ?? (() => undefined);
    const repo = await new LocalRepo(
      root,
      { name: settings.description, email: `${settings.agent}@cloudbridge` },
      {
        onWait: (owner) =>
          log("warn", "folder.busy", { owner, message: `waiting for cloudbridge (pid ${owner}) to finish its work on this folder` }),
        cleanFilter: { command: settings.cleanFilter },
        ...(options.lookThroughIndex ? { lookThroughIndex: true, ...(options.look ? { look: options.look } : {}) } : {}),
      },
    ).open();
    // What this machine wants, where every machine (and git-annex) reads it: the cloud keeps what a machine wants and lacks.
    await recordWantedOnce(annex.branch, repo.stateDir, settings.agent, settings.wanted === "everything" ? "anything" : "nothing");
    const queue = new TransferQueue(repo.stateDir);
    const content = new AnnexContent(annex, queue, {
      largefiles: settings.largefiles,
      wanted: settings.wanted,
      place: async (path, key) => {
        const placed = await placeAtPointers(repo, content, path, key);
        // What a download brought that no file took (its file moved or changed meanwhile): said for a person tracing why.
        if (placed.length === 0) log("debug", "content.unplaced", { key, path });
      },
      log: (event, fields) => log(event.endsWith(".failed") ? "warn" : "debug", event, fields),
      ...(options.transferProgress ? { progress: options.transferProgress } : {}),
    });
    const branch = new AnnexBranch(gitDir);
    // A name git-annex never writes (a newline, a control character, ..) is left out of merges, and said.
    branch.skipPath = (path) => {
      const reason = unsafeBranchPathReason(path);
      if (reason)
        log("warn", "annex.path-skipped", {
          path,
          message: `skipped ${JSON.stringify(path)} of another copy of the git-annex branch: ${reason}`,
        });
      return reason !== undefined;
    };
    const side: SideBranch = {
      ref: ANNEX_BRANCH,
      head: () => branch.head(),
      merge: async (ours, theirs) => (await branch.unionMerge(ours, theirs)) ?? theirs,
      advance: (oid, old) => branch.compareAndSwap(oid, old),
    };
    const remote = new BucketRemote({ store: folder.store, layout: folder.layout, repo: settings.location.repo, gitDir }, settings.agent, {
      refs: [MAIN_REF, ANNEX_BRANCH],
      warn: (message) => log("warn", "ref.skipped", { message }),
      landedWithWarning: (message) => log("warn", "push.landed-with-warning", { message }),
    });
    const engine = new SyncEngine(repo, remote, {
      annex: content,
      content,
      side,
      log: (event, fields) => log(event.startsWith("refused") || event === "unwritable" ? "error" : "info", event, fields),
      trace: (step, fields) => log("debug", "round.step", { step, ...fields }),
    });
    return { ...folder, repo, content, engine };
  } catch (error) {
    folder.close();
    throw error;
  }
}
