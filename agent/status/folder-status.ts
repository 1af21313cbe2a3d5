import { resolve } from "node:path";
import { explainAccessError } from "../../objectstore/index.ts";
import { BucketLayout, CloudbridgeError, formatRemoteUrl } from "../../protocol/index.ts";
import { readSharedRefNow } from "../../gitstore/index.ts";
import type { DaemonStatus } from "../daemon.ts";
import { readDaemonStatus } from "../daemon-status.ts";
import {
  bucketStoreFor,
  isFolder,
  notAFolderAt,
  openSyncedFolder,
  readSettings,
  type FolderSettings,
  type SyncedFolder,
} from "../folder/index.ts";
import { readPause, type PauseState } from "../folder/pause.ts";
import type { ListenerState } from "../listen/listener-health.ts";
import type { Logger } from "../log.ts";
import { readPresence, type PresenceRecord } from "../presence.ts";
import { LocalRepo, MAIN_REF } from "../sync/local-repo.ts";
import { scan } from "../sync/scanner.ts";
import { TransferQueue, type RunningTransfer, type TransferJob } from "../sync/transfer-queue.ts";
import { mergeRefused, type RefusedPath, type RefusedPathSource } from "./refused-paths.ts";

/**
 * What a synced folder is doing, as one typed value: `cloudbridge status` prints it for people and as
 * JSON, and a page can serve the same JSON. It is built in two parts. The local part (this machine's
 * commits, changes, transfers, the daemon and its listener, refused paths) needs nothing but the folder,
 * so it is always there; the cloud part (what the bucket's branch is at, the other machines) says why it is
 * missing when the bucket cannot be reached, with the same advice any command gives. The daemon's page
 * serves the same value for each of its folders, with what only the daemon knows (its state in memory,
 * transfer rates) passed in as `live`.
 */
export const STATUS_FORMAT = 1;

export type FolderState = "idle" | "scanning" | "syncing" | "paused" | "error" | "stopped";

/** A transfer in flight as the daemon sees it: bytes so far and the rate over the last few seconds. */
export interface ActiveTransfer {
  direction: "up" | "down";
  key: string;
  path?: string;
  done: number;
  total: number;
  /** Bytes per second over the last few seconds. */
  rate: number;
  /** Seconds left at that rate (undefined while the rate is unknown). */
  etaSeconds?: number;
}

/** What the daemon knows of its folder that no file holds. */
export interface LiveFolderState {
  daemon: DaemonStatus & { running: boolean };
  state: Exclude<FolderState, "paused" | "stopped">;
  active: ActiveTransfer[];
}

export interface FolderStatus {
  format: typeof STATUS_FORMAT;
  folder: string;
  remote: string;
  agent: string;
  description: string;
  /** The folder's commit (main), or null before the first. */
  head: string | null;
  /** `cloudbridge.wanted`: which annexed content this machine downloads. */
  wanted: FolderSettings["wanted"];
  /** Local commits the cloud does not have yet (against the cloud's branch read now, else as last seen). */
  unpushed: { commits: number; cloudHead: string | null; as: "read-now" | "last-seen" };
  /** Files changed here and not committed yet; null when the folder could not be scanned (see `problems`). */
  localChanges: Array<{ path: string; change: "changed" | "deleted" }> | null;
  /** Paths not synced, and why. */
  refused: RefusedPath[];
  /** `running` as the daemon last saved it; `active` (with rates) only from inside the daemon. */
  transfers: { queued: TransferJob[]; running: RunningTransfer[]; active: ActiveTransfer[] };
  daemon: DaemonState | null;
  /** What the folder is doing: the daemon's live state, else guessed from its status file. */
  state: FolderState;
  /** Set while `cloudbridge pause` (or the page) holds the folder. */
  paused: PauseState | null;
  /** Bandwidth limits in bytes per second (0: none). */
  limits: { upload: number; download: number };
  cloud: CloudState;
  /** What kept a part of this status from being known (one line each, with what to do). */
  problems: Array<{ part: "local" | "cloud"; code: string; message: string }>;
}

export interface DaemonState {
  running: boolean;
  pid: number;
  startedAt: string;
  /** Whether the listener works; null when the daemon recorded none (an older daemon). */
  listener: ListenerState | null;
  lastRound: DaemonStatus["lastRound"] | null;
  lastSync: string | null;
  lastError: string | null;
  /** Whether local changes are seen as they happen (null: an older daemon did not say). */
  watcher: NonNullable<DaemonStatus["watcher"]> | null;
}

export type CloudState =
  | { reachable: true; head: string | null; machines: PresenceRecord[] }
  | { reachable: false; code: string; reason: string }
  | { reachable: null; reason: string };

export interface StatusOptions {
  /** Do not ask the bucket (the cloud part says so). */
  offline?: boolean;
  log?: Logger;
  /** Further records of refused paths (read and listed beside the scan's and the daemon's). */
  refusedSources?: readonly RefusedPathSource[];
  /** The folder, already open (the daemon's): scanned under its lock instead of opening another. */
  folder?: SyncedFolder;
  /** From inside the daemon. */
  live?: LiveFolderState;
  /**
   * Asked by a process that exits after it (`cloudbridge status`): the bucket through the light S3 client when
   * the settings are plain, and the folder opened for one command (agent/folder's OpenOptions.oneCommand), so
   * the AWS SDK's S3 module is not loaded for a status.
   */
  oneCommand?: boolean;
}

export async function folderStatus(dir: string, options: StatusOptions = {}): Promise<FolderStatus> {
  const root = resolve(dir);
  // Said as sync says it, with how to make it a folder, before its git config is read for settings it lacks.
  if (!(await isFolder(root))) throw await notAFolderAt(root, dir);
  const settings = await readSettings(root);
  const problems: FolderStatus["problems"] = [];
  const repo = new LocalRepo(root);
  const head = (await repo.head()) ?? null;
  const daemon = options.live?.daemon ?? (await readDaemonStatus(root));
  const paused = (await readPause(root)) ?? null;

  // The cloud first (its branch tells how many local commits it lacks), without letting it stop the rest.
  let cloud: CloudState;
  if (options.offline) cloud = { reachable: null, reason: "not asked (--offline)" };
  else {
    try {
      cloud = await readCloud(settings, options.oneCommand === true);
    } catch (error) {
      const explained = explainAccessError(error, settings) ?? error;
      const code = explained instanceof CloudbridgeError ? explained.code : "cloud-error";
      cloud = { reachable: false, code, reason: (explained as Error).message };
      problems.push({ part: "cloud", code, message: (explained as Error).message });
    }
  }
  const unpushed = await unpushedCommits(repo, head, cloud.reachable === true ? cloud.head : undefined);

  let localChanges: FolderStatus["localChanges"] = null;
  let scanned: RefusedPath[] = [];
  const busy = options.folder ? undefined : await busyFolder(repo);
  if (busy !== undefined) {
    problems.push({
      part: "local",
      code: "folder-busy",
      message: `local changes not looked at: cloudbridge (pid ${busy}) is working on this folder (a round, with its transfers); it commits what changed itself, so run status again to see what is left`,
    });
  } else {
    try {
      ({ localChanges, refused: scanned } = await scanFolder(root, options));
    } catch (error) {
      const explained = explainAccessError(error, settings) ?? error;
      problems.push({
        part: "local",
        code: explained instanceof CloudbridgeError ? explained.code : "scan-failed",
        message: `local changes unknown: ${(explained as Error).message}`,
      });
    }
  }
  const recorded = await Promise.all((options.refusedSources ?? []).map((source) => source.read(root).catch(() => [])));
  const queued = await new TransferQueue(repo.stateDir).list();
  return {
    format: STATUS_FORMAT,
    folder: root,
    remote: formatRemoteUrl(settings.location),
    agent: settings.agent,
    description: settings.description,
    head,
    wanted: settings.wanted,
    unpushed,
    localChanges,
    refused: mergeRefused(scanned, ...recorded, daemon?.refused ?? []),
    transfers: { queued, running: daemon?.running ? (daemon.transfers ?? []) : [], active: options.live?.active ?? [] },
    daemon: daemon
      ? {
          running: daemon.running,
          pid: daemon.pid,
          startedAt: daemon.startedAt,
          listener: daemon.listener ?? null,
          lastRound: daemon.lastRound ?? null,
          lastSync: daemon.lastSync ?? null,
          lastError: daemon.lastError ?? null,
          watcher: daemon.watcher ?? null,
        }
      : null,
    state: paused ? "paused" : options.live ? options.live.state : daemon?.running ? (daemon.lastError ? "error" : "idle") : "stopped",
    paused,
    limits: { upload: settings.uploadLimit, download: settings.downloadLimit },
    cloud,
    problems,
  };
}

/** The bucket's main and the machines' presence records. */
async function readCloud(settings: FolderSettings, oneCommand: boolean): Promise<CloudState> {
  const store = await bucketStoreFor(settings, { oneCommand });
  try {
    const { bucket, prefix, repo } = settings.location;
    const layout = new BucketLayout(prefix);
    const head = (await readSharedRefNow(store, layout, repo, MAIN_REF)) ?? null;
    const machines = await readPresence(store, { bucket, prefix, repo });
    return { reachable: true, head, machines };
  } finally {
    store.destroy(); // not store.client: over the light client, that would make the SDK's client only to close it
  }
}

/**
 * Local commits the cloud lacks: those of main not reachable from the cloud's branch — as read now when
 * this machine has that commit, else as this machine last saw it (the tracking ref every fetch and push
 * moves). A cloud without the branch lacks every local commit.
 */
async function unpushedCommits(
  repo: LocalRepo,
  head: string | null,
  cloudNow: string | null | undefined,
): Promise<FolderStatus["unpushed"]> {
  const lastSeen = (await repo.git.revParse("refs/remotes/cloud/main")) ?? null;
  let base: string | null;
  let as: FolderStatus["unpushed"]["as"];
  if (cloudNow === null) [base, as] = [null, "read-now"];
  else if (cloudNow && (await repo.git.revParse(`${cloudNow}^{commit}`))) [base, as] = [cloudNow, "read-now"];
  else [base, as] = [lastSeen, "last-seen"];
  const cloudHead = cloudNow === undefined ? lastSeen : cloudNow;
  if (!head) return { commits: 0, cloudHead, as };
  const count = await repo.git.text(["rev-list", "--count", head, ...(base ? ["--not", base] : [])]);
  return { commits: Number(count), cloudHead, as };
}

/** How long `status` waits for another process's round before it leaves the local scan out (a round is usually shorter). */
const BUSY_WAIT_MS = 3000;

/**
 * The pid of another process (the daemon) still working on the folder after a short wait, else undefined.
 * A round holds the folder for as long as its transfers take (minutes under a bandwidth limit), and
 * `status` is what a person runs to see them move: it does not wait for the round to end.
 */
async function busyFolder(repo: LocalRepo): Promise<number | undefined> {
  const deadline = Date.now() + BUSY_WAIT_MS;
  for (;;) {
    const owner = repo.lock.busyWith();
    if (owner === undefined || Date.now() >= deadline) return owner;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * Changes waiting in the folder, and local paths the scan refuses. Opening the folder takes its lock and
 * may hash new large files into the annex (as the next round would), never uploading anything.
 */
async function scanFolder(
  root: string,
  { log, folder: open, oneCommand }: StatusOptions,
): Promise<{ localChanges: NonNullable<FolderStatus["localChanges"]>; refused: RefusedPath[] }> {
  const folder = open ?? (await openSyncedFolder(root, { ...(log ? { log } : {}), ...(oneCommand ? { oneCommand } : {}) }));
  try {
    const result = await folder.repo.lock.hold(() => scan(folder.root, folder.repo.cache, folder.repo.git, folder.content));
    return {
      localChanges: [...result.changes].map(([path, entry]) => ({ path, change: entry ? ("changed" as const) : ("deleted" as const) })),
      refused: result.refused.map((r) => ({ path: r.path, reason: r.reason, kind: "not-uploaded" as const })),
    };
  } finally {
    if (!open) folder.close();
  }
}
