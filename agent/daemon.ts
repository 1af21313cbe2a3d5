import { readFileSync, watch } from "node:fs";
import { rm } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";
import { join, resolve } from "node:path";
import { isAuthFailure, KeyPickup } from "./credentials/agent-key.ts";
import { FolderError, openSyncedFolder, settingsWhenChanged, type Folder, type FolderSettings } from "./folder/index.ts";
import { PAUSE_FILE, readPause } from "./folder/pause.ts";
import type { ChangeListener } from "./listen/listener.ts";
import { cachedRefsIndex } from "../gitstore/index.ts";
import type { ChangeMessage } from "../protocol/index.ts";
import { spreadHints } from "./listen/hint-spread.ts";
import { PollListener } from "./listen/poll.ts";
import { SqsListener } from "./listen/sqs.ts";
import { StackQueues } from "./listen/stack-queue.ts";
import { XmppListener } from "./listen/xmpp.ts";
import type { Logger } from "./log.ts";
import { ListenerHealth, type ListenerState } from "./listen/listener-health.ts";
import { awsClientConfig, explainAccessError } from "../objectstore/index.ts";
import { refusedIn, type RefusedPath } from "./status/refused-paths.ts";
import { writePresence } from "./presence.ts";
import { writeFileAtomic } from "./sync/atomic-file.ts";
import { Backoff } from "./backoff.ts";
import { readDaemonStatus, statusFile } from "./daemon-status.ts";
import { CompactionDuty } from "./compaction-duty.ts";
import type { Direction, RunningTransfer } from "./sync/transfer-queue.ts";
import { LocalRepo } from "./sync/local-repo.ts";
import { writersClosed, writersOf, type Writer } from "./sync/open-files.ts";
import { roundSummary } from "./sync/round-summary.ts";
import { combineRounds, type SyncOnceReport, type SyncReport } from "./sync/engine.ts";
import { serveDaemonSocket } from "./daemon-socket.ts";
import { remoteRequests } from "./remote-requests.ts";
import { inotifyLimits, watchFolder, watcherTrouble, type FolderWatcher, type Subscribe } from "./sync/watcher.ts";
import type { LiveFolderState } from "./status/folder-status.ts";
import { TransferMonitor } from "./status/transfer-monitor.ts";
import type { FolderHandle } from "./ui/folder-handle.ts";
import { startPage, type Page } from "./ui/server.ts";

/**
 * `cloudbridge daemon`: keeps one folder in sync until stopped. A sync round runs at start, after each
 * burst of local changes (watcher, debounced), on each notification (XMPP, SQS, or a poll that saw
 * `info/refs` change), and every reconcile interval whatever was heard, so correctness never depends on
 * notifications. Failed rounds are retried with backoff. All state is in the folder's .git: kill -9 at any
 * moment and a restart carries on. One daemon per folder (a pid file guards it); one process may serve several
 * folders (`runDaemons`), which is how a machine has one reader per agent queue.
 */
export interface DaemonOptions {
  log: Logger;
  /** Resolves when the daemon should stop (signals, a test). */
  stopped: Promise<void>;
  /** Called once the daemon is watching and listening (after its first round). */
  onReady?: (info: DaemonStatus) => void;
  /** The page's port (0: any free one; "off": no page); default from cloudbridge.uiPort. */
  uiPort?: number | "off";
  /** What the folders of one daemon process share: the stack queues' readers, the key pickups. */
  machine?: MachineServices;
  /** The native watcher (tests give one that fails). */
  subscribe?: Subscribe;
  /** How often the folder is scanned once its watcher failed (default SCAN_WITHOUT_WATCHER_MS). */
  scanWithoutWatcherMs?: number;
}

/**
 * One daemon process serves every folder it is given (as Syncthing does): an agent's queue is read once
 * per machine and its messages go to the folders they are about, and a profile's rotated key is picked
 * up once for all the folders that use it.
 */
export class MachineServices {
  readonly queues: StackQueues;
  private readonly keys = new Map<string, KeyPickup>();

  constructor(stateDir?: string) {
    this.queues = new StackQueues(stateDir);
  }

  /** The key pickup of an onboarded folder's profile (started once per profile), or undefined for a folder without one. */
  keyPickup(settings: FolderSettings, log: Logger): KeyPickup | undefined {
    const { profile, keySecret } = settings;
    if (!profile || !keySecret) return undefined;
    let pickup = this.keys.get(profile);
    if (!pickup) {
      pickup = new KeyPickup({ profile, secretArn: keySecret, region: settings.region, endpoint: settings.endpoint, log });
      pickup.start(settings.keyCheckIntervalMs);
      this.keys.set(profile, pickup);
    }
    return pickup;
  }

  stop(): void {
    for (const pickup of this.keys.values()) pickup.stop();
    this.keys.clear();
  }
}

export interface DaemonStatus {
  pid: number;
  folder: string;
  agent: string;
  /** The listener in use (the configured one, or polling when that failed to start). */
  listen: string;
  /** Whether the listener works (status shows it; a failed one never reads as listening). */
  listener?: ListenerState;
  startedAt: string;
  lastSync?: string;
  lastError?: string;
  head?: string;
  /** The last round: when, why, whether it worked (and the error, said with what to do). */
  lastRound?: { at: string; why: string; ok: boolean; error?: string };
  /** Paths the last full round did not sync, with the reason. */
  refused?: RefusedPath[];
  /** Transfers in flight, with progress (refreshed about once a second while any runs). */
  transfers?: RunningTransfer[];
  /**
   * Whether local changes are seen as they happen: the folder watcher works, or it failed (the kernel's
   * watch limit...) and the folder is scanned every `scanEveryS` seconds instead.
   */
  watcher?: { state: "watching" } | { state: "failed"; since: string; error: string; scanEveryS: number };
}

/** How long a stop waits for a round waiting on the bucket before it cuts the round's requests. */
export const STOP_GRACE_MS = 10_000;

/** How often a folder is scanned when its watcher failed (a scan of an unchanged folder reads no file). */
export const SCAN_WITHOUT_WATCHER_MS = 30_000;

export async function runDaemon(folderPath: string, options: DaemonOptions): Promise<void> {
  const { log } = options;
  const root = resolve(folderPath);
  const previous = await readDaemonStatus(root);
  if (previous?.running && previous.pid !== process.pid) {
    throw new FolderError(
      "daemon-running",
      `a daemon (pid ${previous.pid}) already syncs ${root}; stop it first (kill ${previous.pid}) or use \`cloudbridge status ${root}\`.`,
    );
  }
  // The folder is ours now: locks left by a daemon that was killed (kill -9, a crash, a power cut) go.
  // Under the folder lock: a `cloudbridge sync` running beside is not a killed process.
  const cleaner = new LocalRepo(root);
  const stale = await cleaner.lock.hold(() => cleaner.removeStaleLocks()).catch(() => []);
  if (stale.length > 0) log("warn", "locks.removed", { locks: stale, message: "removed lock files left by a process that was killed" });
  // Who is looking at the page: told after each round, each change of state and as transfers move.
  const watchers = new Set<(what: "status" | "transfers") => void>();
  const notify = (what: "status" | "transfers" = "status") => watchers.forEach((listener) => listener(what));
  const monitor = new TransferMonitor(() => notify("transfers"));
  const folder = await openSyncedFolder(root, { log, transferProgress: monitor });
  const { settings } = folder;
  // A paused folder (`cloudbridge pause`, the page) commits, pushes and pulls nothing: rounds are skipped
  // until the pause file goes, then one full round catches up with everything that happened meanwhile.
  let paused = (await readPause(root)) !== undefined;
  let state: LiveFolderState["state"] = "idle";
  const ownMachine = options.machine ? undefined : new MachineServices();
  const machine = options.machine ?? ownMachine!;
  const keyPickup = machine.keyPickup(settings, log);
  const status: DaemonStatus = {
    pid: process.pid,
    folder: folder.root,
    agent: settings.agent,
    listen: "poll",
    startedAt: new Date().toISOString(),
  };
  const saveStatus = () => writeFileAtomic(statusFile(folder), JSON.stringify(status, null, 2)).catch(() => undefined);
  // Only changes of the listener's state are logged and saved: a server that stays down is said once.
  // (The listener reports to `health`, made once the listener is: its kind is health's first state.)
  const healthOf: { current?: ListenerHealth } = {};
  // Trouble before the listener first worked is its start failing (said once, as "failed"), not a connection going down.
  const listenerTrouble = (kind: string) => (error: unknown) => {
    const h = healthOf.current;
    if (h?.state.active === kind && (h.state.state === "listening" || h.state.state === "down"))
      h.set("down", { error: (error as Error).message });
  };
  let listener = chooseListener(folder, listenerTrouble, () => healthOf.current?.set("listening"), machine);
  status.listen = listener.kind;
  const health = new ListenerHealth(listener.kind, (state, previous) => {
    status.listener = state;
    status.listen = state.active;
    void saveStatus();
    if (state.state === "connecting") return;
    log(state.state === "listening" ? "info" : "warn", "listen.state", {
      listen: state.active,
      state: state.state,
      ...(state.error ? { error: state.error } : {}),
      message:
        state.state === "listening"
          ? `listening for changes by ${state.active}${previous.state === "down" ? " again" : ""}`
          : state.state === "down"
            ? `${state.active} listener is down (${state.error}); retrying, with full rounds every ${Math.round(settings.reconcileIntervalMs / 1000)} s meanwhile`
            : `${state.configured} listener failed (${state.error})${state.active !== state.configured ? `; polling every ${Math.round(settings.pollIntervalMs / 1000)} s instead` : ""}`,
    });
  });
  healthOf.current = health;
  status.listener = health.state;
  await saveStatus();
  log("info", "daemon.start", { folder: folder.root, agent: settings.agent, listen: listener.kind, pid: process.pid });

  let stopping = false;
  let retryTimer: NodeJS.Timeout | undefined;
  const roundBackoff = new Backoff();
  // Transfers that failed for a passing reason (network, full disk) are retried by a round of their own.
  const transferBackoff = { up: new Backoff(), down: new Backoff() };
  let transferTimer: NodeJS.Timeout | undefined;
  const retryTransfers = (direction: Direction) => {
    const due = folder.content.takeRetry(direction);
    if (due === undefined) return;
    if (!due) return transferBackoff[direction].reset();
    const delay = transferBackoff[direction].next();
    log("warn", "transfer.retry", { direction, retryInMs: delay });
    clearTimeout(transferTimer);
    if (!stopping) transferTimer = setTimeout(() => void round([], `retry-${direction}`), delay);
  };
  let downloads: Promise<void> | undefined;
  const compaction = new CompactionDuty(folder, log);
  // Files still being written are looked at again once they may have settled (sync/scanner.ts), or as soon
  // as the writers that held them open have closed them (kept here from the scanner's look).
  const writers = new Map<string, Writer[]>();
  const openForWriting = async (paths: readonly string[]): Promise<Set<string> | undefined> => {
    const found = await writersOf(paths);
    for (const path of paths) writers.delete(path);
    if (found) for (const [path, held] of found) writers.set(path, held);
    return found && new Set(found.keys());
  };
  const settle = { quietMs: settings.settleMs, maxWaitMs: settings.settleMaxMs, openForWriting };
  let settleTimer: NodeJS.Timeout | undefined;
  const settling = new Set<string>();

  /** Set once the folder is watched: told when a round over the whole folder is asked. */
  const watching: { watcher?: FolderWatcher } = {};
  /**
   * Rounds whose paths may not all have been looked at (skipped while paused, failed), and how many of
   * them a later round over the whole folder covered: a `sync` asked meanwhile scans the whole folder,
   * since the watcher handed those paths out already.
   */
  const lost = { rounds: 0, covered: 0 };
  /**
   * Callers that joined one queued round (engine.ts) share its outcome, the same report or error: the
   * first to hear it says it and sees to what follows from it, once per round.
   */
  const heard = new WeakSet<object>();
  const firstToHear = (outcome: unknown): boolean => {
    if (typeof outcome !== "object" || outcome === null) return true;
    if (heard.has(outcome)) return false;
    heard.add(outcome);
    return true;
  };
  /**
   * A round, with the daemon's bookkeeping around it; its report, the error it failed with (retried
   * later), or undefined when skipped (paused, stopping). `settleFiles`: files still being written wait
   * (not for a round `cloudbridge sync` asked for, which commits what is there, as it does without a daemon).
   */
  const round = async (
    paths: string[] | undefined,
    why: string,
    localOnly = false,
    settleFiles = true,
  ): Promise<SyncReport | Error | undefined> => {
    if (stopping || paused) {
      if (paths?.length !== 0) lost.rounds += 1;
      if (paused) log("debug", "sync.paused", { why });
      return;
    }
    log("debug", "round.asked", { why, paths: paths?.length ?? "all" });
    const lostBefore = lost.rounds;
    if (paths === undefined) watching.watcher?.wholeFolderScanned();
    let report: SyncReport;
    state = "syncing";
    notify();
    try {
      await applyLimits();
      report = await folder.engine.sync(paths, { localOnly, ...(settleFiles ? { settle } : {}) });
    } catch (error) {
      // A key the cloud no longer knows: the agent's secret may hold the rotated one (read with the key it has).
      if (keyPickup && isAuthFailure(error) && !stopping) {
        const changed = await keyPickup.check().catch(() => false);
        if (changed) return round(paths, `${why}-new-key`, localOnly, settleFiles);
      }
      lost.rounds += 1;
      if (!firstToHear(error)) return error instanceof Error ? error : new Error(String(error));
      state = "error";
      status.lastError = (explainAccessError(error, folder.settings) ?? (error as Error)).message;
      status.lastRound = { at: new Date().toISOString(), why, ok: false, error: status.lastError };
      await saveStatus();
      notify();
      const delay = Math.min(settings.reconcileIntervalMs, roundBackoff.next());
      log("error", "sync.failed", { why, message: (error as Error).message, retryInMs: delay });
      clearTimeout(retryTimer);
      if (!stopping) retryTimer = setTimeout(() => void round(undefined, "retry"), delay);
      return error instanceof Error ? error : new Error(String(error));
    }
    if (paths === undefined) lost.covered = Math.max(lost.covered, lostBefore);
    roundBackoff.reset();
    retryTransfers("up");
    status.lastSync = new Date().toISOString();
    status.lastRound = { at: status.lastSync, why, ok: true };
    if (paths === undefined) status.refused = refusedIn(report);
    status.head = report.head;
    delete status.lastError;
    // A round that reached the bucket shows a polling listener works again.
    if (!localOnly && listener.kind === "poll" && health.state.state === "down") health.set("listening");
    await saveStatus();
    state = "idle";
    notify();
    if (!firstToHear(report)) return report;
    if (report.committed || report.written || report.deleted || report.merged) {
      // One line per round, in files (the commit is in `cloudbridge log`).
      log("info", "sync", {
        message: roundSummary(report),
        why,
        sent: report.sent,
        written: report.written,
        deleted: report.deleted,
        merged: report.merged,
        ...(report.variants.length ? { variants: report.variants.length } : {}),
      });
    }
    if (folder.engine.followUp({ pending: report.pending, contentArrived: false }) === "full")
      setImmediate(() => void round(undefined, "pending"));
    if (report.settling.length > 0 && !stopping) {
      for (const { path } of report.settling) settling.add(path);
      clearTimeout(settleTimer);
      const settled = () => {
        const paths = [...settling];
        settling.clear();
        void round(paths, "settled", true);
      };
      const dueInMs = Math.min(...report.settling.map((s) => s.dueInMs));
      const timer = (settleTimer = setTimeout(settled, dueInMs));
      // Held back because a process was writing them: looked at again as soon as every writer closed them.
      const held = report.settling.map(({ path }) => join(folder.root, path));
      const heldBy = held.map((path) => writers.get(path));
      for (const path of held) writers.delete(path);
      if (heldBy.every((w) => w !== undefined))
        void Promise.all(held.map((path, i) => writersClosed(path, heldBy[i]!, dueInMs))).then((closed) => {
          if (!closed.every(Boolean) || settleTimer !== timer || stopping) return;
          clearTimeout(timer);
          settled();
        });
    }
    startDownloads();
    void compaction.check();
    return report;
  };

  // Downloads run beside the rounds; once content arrives, one more round publishes where it now is.
  // Asked again while downloading: jobs queued meanwhile were not in the running batch, so one more goes.
  let downloadAgain = false;
  /** Downloads still waiting after the last batch (a `cloudbridge sync` answered here says how many). */
  let downloadsWaiting = 0;
  const startDownloads = () => {
    if (paused) return;
    if (downloads) downloadAgain = true;
    downloads ??= (async () => {
      try {
        do {
          downloadAgain = false;
          const { moved, pending } = await folder.engine.fetchContent();
          downloadsWaiting = pending;
          retryTransfers("down");
          if (folder.engine.followUp({ pending: false, contentArrived: moved }) === "publish") await round([], "content");
        } while (downloadAgain && !stopping);
      } catch (error) {
        log("warn", "download.failed", { message: (error as Error).message });
      } finally {
        downloads = undefined;
      }
    })();
  };

  folder.content.onDownloadsQueued = startDownloads;

  // The bandwidth limits are settings: a change (`cloudbridge limit`) applies from the next round on.
  const readChangedSettings = settingsWhenChanged(root, folder.gitDir);
  const applyLimits = async () => {
    const { settings: current } = await readChangedSettings();
    if (!current) return;
    folder.annex.limits.up.setRate(current.uploadLimit);
    folder.annex.limits.down.setRate(current.downloadLimit);
  };
  const pauseWatcher = watch(folder.repo.stateDir, (_event, name) => {
    if (name !== PAUSE_FILE) return;
    void readPause(root).then((pause) => {
      const now = pause !== undefined;
      if (now === paused) return;
      paused = now;
      log("info", paused ? "daemon.paused" : "daemon.resumed", { folder: folder.root });
      notify();
      if (!paused) void round(undefined, "resumed");
    });
  });
  if (paused) log("info", "daemon.paused", { folder: folder.root });

  /**
   * `cloudbridge sync` asked through the folder's socket: what a sync without a daemon does (a round, the
   * downloads, the follow-up round), where the round looks only at the paths the watcher saw change, once
   * it has seen every event up to the request (a file saved just before `sync` is in them), and at files
   * still waiting to settle (committed now, as a sync without a daemon would). When the watcher cannot
   * vouch for that, or an earlier round may have left paths unseen, the round scans the whole folder.
   */
  const changedSinceLastRound = async (): Promise<string[] | undefined> => {
    if (lost.rounds > lost.covered) return undefined;
    const seen = await watching.watcher?.caughtUp();
    return seen && [...settling, ...seen];
  };
  const syncAsked = async (): Promise<SyncOnceReport> => {
    const once = async (): Promise<SyncReport> => {
      if (paused)
        throw Object.assign(
          new Error(`${folder.root} is paused: nothing was synced. \`cloudbridge resume ${folder.root}\` syncs it again.`),
          { code: "folder-paused" },
        );
      const outcome = await round(await changedSinceLastRound(), "asked", false, false);
      if (outcome instanceof Error) throw outcome;
      if (!outcome) throw Object.assign(new Error("the daemon stopped or paused before the round"), { code: "skipped" });
      return outcome;
    };
    const start = performance.now();
    const first = await once();
    while (downloads) await downloads;
    const report = first.pending ? combineRounds(first, await once()) : first;
    const uploadsPending = await folder.content.uploadsWaiting();
    log("debug", "sync.answered", { ms: Math.round(performance.now() - start), scanned: report.scanned });
    return {
      ...report,
      downloadsPending: downloadsWaiting,
      uploadsPending,
      notDownloaded: await folder.content.transfersFailed("down"),
      contentNotUploaded: await folder.content.transfersFailed("up"),
    };
  };

  // A watcher that fails (past the kernel's watch limit, say) is said in the log and in `status`, and the
  // folder is scanned at a steady pace instead, so local changes still leave within seconds, not at the
  // next reconcile.
  let scanTimer: NodeJS.Timeout | undefined;
  const watcherFailed = async (error: Error) => {
    if (stopping || status.watcher?.state === "failed") return;
    const reason = watcherTrouble(error, await inotifyLimits());
    const scanEveryMs = options.scanWithoutWatcherMs ?? SCAN_WITHOUT_WATCHER_MS;
    const scanEveryS = scanEveryMs / 1000;
    status.watcher = { state: "failed", since: new Date().toISOString(), error: reason, scanEveryS };
    log("error", "watch.failed", { message: `${reason}; the folder is scanned every ${scanEveryS} s instead`, error: error.message });
    await saveStatus();
    notify();
    scanTimer ??= setInterval(() => void round(undefined, "scan", true), scanEveryMs);
  };
  status.watcher = { state: "watching" };
  const watcher: FolderWatcher = watchFolder(folder.root, (paths) => void round(paths, "local", true), {
    debounceMs: settings.debounceMs,
    tracked: () => folder.repo.cache.entries.keys(),
    onError: (error) => void watcherFailed(error),
    fenceDir: folder.repo.stateDir,
    ...(options.subscribe ? { subscribe: options.subscribe } : {}),
  });
  await watcher.ready;
  watching.watcher = watcher;
  // Watching first, then the first round's full scan: whatever changed before the watcher saw it is found by
  // that scan, anything after comes as events (one full scan at start, not one before and one after).
  await round(undefined, "start");
  // A poll that saw the bucket move is not a notification: the log says which it was. Each machine waits
  // a random few milliseconds first, so one change does not make them all read the bucket at once.
  const spread = spreadHints(() => void round([], listener.kind === "poll" ? "polled" : "notified"));
  // The refs index at the version this machine last wrote or read (its own push, heard back) holds nothing new.
  const onHint = Object.assign(
    (message: ChangeMessage | undefined) => {
      log("debug", "notified", { kind: message?.kind ?? "unknown" });
      if (message?.kind !== "refs" || message.ref !== undefined || message.etag === undefined) return spread(message);
      const ctx = { store: folder.store, layout: folder.layout, repo: settings.location.repo, gitDir: folder.gitDir };
      // Asked once the running round is done: this machine's own push is often heard before it has recorded
      // the index it wrote, and a round to fetch what it wrote itself would load the machine for nothing.
      void folder.engine
        .roundDone()
        .then(() => cachedRefsIndex(ctx))
        .then(
          (known) => (known?.etag === message.etag ? undefined : spread(message)),
          () => spread(message),
        );
    },
    { cancel: () => spread.cancel() },
  );
  try {
    await listener.start(onHint);
    health.set("listening");
    // A change another machine made before this listener was subscribed was heard by nobody here.
    await round([], "listening");
  } catch (error) {
    const why = `${(error as Error).message} (${LISTENER_SETTINGS[listener.kind]})`;
    await listener.stop().catch(() => undefined);
    // Polling needs nothing but the bucket: changes keep arriving within the poll interval, not only at reconcile.
    const fallback =
      listener.kind === "poll"
        ? undefined
        : new PollListener(folder.store, settings.location, settings.pollIntervalMs, listenerTrouble("poll"));
    health.set("failed", { error: why, ...(fallback ? { active: "poll" as const } : {}) });
    log("error", "listen.failed", { listen: health.state.configured, message: why, fallback: fallback ? "poll" : "reconcile only" });
    if (fallback) {
      listener = fallback;
      await fallback
        .start(onHint)
        .catch((pollError: unknown) => log("error", "listen.failed", { listen: "poll", message: (pollError as Error).message }));
    }
  }
  // Transfers in flight are shown by `status` with their progress: saved about once a second while any runs.
  const progressTimer = setInterval(() => {
    const running = [...folder.content.running.values()];
    if (running.length === 0 && !status.transfers?.length) return;
    status.transfers = running;
    void saveStatus();
  }, 1000);
  const reconcile = setInterval(() => void round(undefined, "reconcile"), settings.reconcileIntervalMs);
  const presence = async (state: "running" | "stopped") => {
    await writePresence(folder.store, settings.location, {
      agent: settings.agent,
      description: settings.description,
      listen: listener.kind,
      state,
      startedAt: status.startedAt,
    }).catch((error: unknown) => log("warn", "presence.failed", { message: (error as Error).message }));
  };
  await presence("running");
  const presenceTimer = setInterval(() => void presence("running"), settings.presenceIntervalMs);
  const handle: FolderHandle = {
    id: settings.agent,
    folder,
    live: () => ({ daemon: { ...status, transfers: [...folder.content.running.values()], running: true }, state, active: monitor.list() }),
    sync: async (paths) => {
      await round(paths, paths ? "page" : "asked");
    },
    onUpdate: (listener) => {
      watchers.add(listener);
      return () => watchers.delete(listener);
    },
  };
  const uiPort = options.uiPort ?? settings.uiPort;
  let page: Page | undefined;
  if (uiPort !== "off") {
    try {
      page = await startPage([handle], { port: uiPort, log });
      log("info", "page.listening", { url: page.origin });
    } catch (error) {
      log("error", "page.failed", { port: uiPort, message: (error as Error).message });
    }
  }
  // `cloudbridge sync` run by hand asks this daemon instead of loading the agent and scanning the folder itself,
  // and the remote helper git starts for a push in the folder asks it to list and push (remote-requests.ts).
  const helperAsked = remoteRequests(folder, log);
  const socket = await serveDaemonSocket(folder.repo.stateDir, (request) =>
    request.ask === "sync" ? syncAsked() : helperAsked.answer(request),
  ).catch((error: unknown) => {
    log("warn", "socket.failed", { message: `commands will not ask this daemon: ${(error as Error).message}` });
    return undefined;
  });
  log("info", "daemon.ready", { folder: folder.root, listen: listener.kind });
  options.onReady?.(status);

  await options.stopped;
  stopping = true;
  log("info", "daemon.stopping", { folder: folder.root });
  clearInterval(reconcile);
  clearInterval(presenceTimer);
  clearInterval(progressTimer);
  clearTimeout(retryTimer);
  clearTimeout(transferTimer);
  clearTimeout(settleTimer);
  clearInterval(scanTimer);
  onHint.cancel();
  await socket?.close();
  await helperAsked.close();
  pauseWatcher.close();
  await page?.close();
  await watcher.close();
  await listener.stop();
  // A running round is let finish, but one waiting on a network that does not answer would hold the stop
  // for minutes (the SDK's idle timeouts and retries), and so would the downloads in flight and the stop's
  // own last requests (the compaction check, the "stopped" presence). The bucket is given a grace from the
  // stop; past it, whatever still waits on it is cut by closing the store, which each request meets as any
  // network failure (a round's work on the folder is never cut; transfers resume at the next start).
  // Nothing more is asked of such a network.
  const graceEnds = performance.now() + STOP_GRACE_MS;
  const graceLeft = () => Math.max(0, graceEnds - performance.now());
  let cut = false;
  const cutRequests = (what: string) => {
    cut = true;
    log("warn", "daemon.stop-cut", { message: `${what} still waited on the bucket ${STOP_GRACE_MS / 1000} s after the stop: cut` });
    folder.close();
  };
  const roundOver = folder.engine.sync([], { localOnly: true }).then(
    () => true,
    () => true,
  );
  // Looked at again each second once the grace is over: the round may still be at work on the folder.
  while (!(await Promise.race([roundOver, sleep(graceLeft() || 1000, false, { ref: false })]))) {
    if (folder.engine.waitingOnBucket && !cut) cutRequests("the round's requests");
  }
  if (!cut) {
    const lastRequests = (async () => {
      await downloads;
      if (!cut) await compaction.check();
      if (!cut) await presence("stopped");
    })();
    if (!(await Promise.race([lastRequests.then(() => true), sleep(graceLeft(), false, { ref: false })]))) {
      cutRequests("the downloads in flight and the last requests");
      await lastRequests;
    }
  }
  await rm(statusFile(folder), { force: true });
  if (!cut) folder.close();
  ownMachine?.stop();
  log("info", "daemon.stopped", { folder: folder.root });
}

/** Several folders in one process: one reader per agent queue, one key pickup per profile. */
export async function runDaemons(folderPaths: readonly string[], options: DaemonOptions): Promise<void> {
  const machine = options.machine ?? new MachineServices();
  const ready: DaemonStatus[] = [];
  try {
    await Promise.all(
      folderPaths.map((path) =>
        runDaemon(path, {
          ...options,
          machine,
          onReady: (info) => {
            ready.push(info);
            if (ready.length === folderPaths.length) options.onReady?.(info);
          },
        }),
      ),
    );
  } finally {
    if (!options.machine) machine.stop();
  }
}

/** Where each listener's settings are, named when it fails. */
const LISTENER_SETTINGS = {
  xmpp: "check cloudbridge.xmppService, cloudbridge.xmppJid and the password, and that the XMPP server runs",
  sqs: "check cloudbridge.queueUrl (or cloudbridge.topicArn) and that SQS answers with these credentials",
  poll: "check that the bucket answers",
} as const;

function chooseListener(
  folder: Folder,
  onError: (kind: string) => (error: unknown) => void,
  onWorking: () => void,
  machine: MachineServices,
): ChangeListener {
  const settings: FolderSettings = folder.settings;
  const mode =
    settings.listen === "auto"
      ? settings.xmppJid && settings.xmppService
        ? "xmpp"
        : settings.queueUrl || settings.topicArn
          ? "sqs"
          : "poll"
      : settings.listen;
  if (mode === "xmpp") {
    const password = process.env.CLOUDBRIDGE_XMPP_PASSWORD ?? readSecretFile(folder);
    if (!settings.xmppJid || !settings.xmppService || !password) {
      throw new Error(
        "listening by XMPP needs cloudbridge.xmppService, cloudbridge.xmppJid and a password (CLOUDBRIDGE_XMPP_PASSWORD or .git/cloudbridge/xmpp-password)",
      );
    }
    return new XmppListener({
      service: settings.xmppService,
      jid: settings.xmppJid,
      password,
      agent: settings.agent,
      location: settings.location,
      onError: onError("xmpp"),
      onStatus: (s) => {
        if (s === "online") onWorking();
      },
    });
  }
  if (mode === "sqs" && settings.queueUrl) {
    // The stack's queue for this agent: read (once per machine), never created or subscribed.
    return machine.queues.listener({
      queueUrl: settings.queueUrl,
      client: awsClientConfig(settings),
      location: settings.location,
      agent: settings.agent,
      onError: onError("sqs"),
      onReceive: onWorking,
    });
  }
  if (mode === "sqs") {
    if (!settings.topicArn) throw new Error("listening by SQS needs cloudbridge.topicArn (the change topic's ARN)");
    return new SqsListener({
      topicArn: settings.topicArn,
      agent: settings.agent,
      location: settings.location,
      client: awsClientConfig(settings),
      onError: onError("sqs"),
      onReceive: onWorking,
    });
  }
  return new PollListener(folder.store, settings.location, settings.pollIntervalMs, onError("poll"));
}

function readSecretFile(folder: Folder): string | undefined {
  try {
    return readFileSync(join(folder.root, ".git", "cloudbridge", "xmpp-password"), "utf8").trim() || undefined;
  } catch {
    return undefined;
  }
}
