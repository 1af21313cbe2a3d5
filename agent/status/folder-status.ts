import { readDaemonStatus, type DaemonStatus } from "../daemon.ts";
import type { SyncedFolder } from "../folder/index.ts";
import { readPause, type PauseState } from "../folder/pause.ts";
import { readPresence, type PresenceRecord } from "../presence.ts";
import { formatRemoteUrl } from "../../protocol/index.ts";
import { scan } from "../sync/scanner.ts";
import type { TransferJob } from "../sync/transfer-queue.ts";

/**
 * What a synced folder is doing, as one value: `cloudbridge status --json` prints it, and the daemon's
 * page serves the same value for each of its folders. The daemon passes what only it knows (its state in
 * memory, transfers in flight); a CLI process reads the daemon's status file instead.
 */
export type FolderState = "idle" | "scanning" | "syncing" | "paused" | "error" | "stopped";

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

export interface LiveFolderState {
  daemon: DaemonStatus & { running: boolean };
  state: Exclude<FolderState, "paused" | "stopped">;
  active: ActiveTransfer[];
  /** Paths a round refused, read-only paths, local paths not uploaded: the latest round's. */
  refused?: Array<{ path: string; reason: string; where: "bucket" | "local" | "unwritable" }>;
  /** Commits here that the bucket does not have yet. */
  unpushed?: number;
}

export interface FolderStatus {
  folder: string;
  remote: string;
  agent: string;
  description: string;
  head: string | null;
  localChanges: Array<{ path: string; change: "changed" | "deleted" }>;
  uploads: number;
  downloads: number;
  daemon: (DaemonStatus & { running: boolean }) | null;
  agents: PresenceRecord[];
  state: FolderState;
  paused: PauseState | null;
  limits: { upload: number; download: number };
  /** Which annexed content this folder downloads (cloudbridge.wanted). */
  wanted: "everything" | "nothing";
  transfers: { active: ActiveTransfer[]; queued: Array<Pick<TransferJob, "direction" | "key" | "path">> };
  refused: NonNullable<LiveFolderState["refused"]>;
  unpushed: number | null;
}

export interface StatusOptions {
  /** Do not ask the bucket who else syncs the folder. */
  offline?: boolean;
  /** The presence records, when the caller keeps them (the page reads them once a while, not per update). */
  agents?: PresenceRecord[];
  /** From inside the daemon. */
  live?: LiveFolderState;
}

const MAX_QUEUED_LISTED = 100;

export async function readFolderStatus(folder: SyncedFolder, options: StatusOptions = {}): Promise<FolderStatus> {
  const { changes } = await scan(folder.root, folder.repo.cache, folder.repo.git, folder.content);
  const queued = await folder.content.queue.list();
  const daemon = options.live?.daemon ?? (await readDaemonStatus(folder.root)) ?? null;
  const agents = options.agents ?? (options.offline ? [] : await readPresence(folder.store, folder.settings.location));
  const paused = (await readPause(folder.root)) ?? null;
  const state: FolderState = paused
    ? "paused"
    : options.live
      ? options.live.state
      : daemon?.running
        ? daemon.lastError
          ? "error"
          : "idle"
        : "stopped";
  return {
    folder: folder.root,
    remote: formatRemoteUrl(folder.settings.location),
    agent: folder.settings.agent,
    description: folder.settings.description,
    head: folder.repo.cache.commit ?? null,
    localChanges: [...changes].map(([path, entry]) => ({ path, change: entry ? "changed" : "deleted" })),
    uploads: queued.filter((j) => j.direction === "up").length,
    downloads: queued.filter((j) => j.direction === "down").length,
    daemon,
    agents,
    state,
    paused,
    limits: { upload: folder.annex.limits.up.rate, download: folder.annex.limits.down.rate },
    wanted: folder.content.wanted,
    transfers: {
      active: options.live?.active ?? [],
      // The first of the queue (the counts above say how long it is): a page, not a dump.
      queued: queued.slice(0, MAX_QUEUED_LISTED).map(({ direction, key, path }) => ({ direction, key, ...(path ? { path } : {}) })),
    },
    refused: options.live?.refused ?? [],
    unpushed: options.live?.unpushed ?? null,
  };
}
