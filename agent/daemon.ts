import { readFileSync } from "node:fs";
import { readFile, rm } from "node:fs/promises";
import { join, resolve } from "node:path";
import { isProcessAlive } from "../annex/index.ts";
import { FolderError, openSyncedFolder, type Folder, type FolderSettings } from "./folder/index.ts";
import type { ChangeListener } from "./listen/listener.ts";
import { PollListener } from "./listen/poll.ts";
import { SqsListener } from "./listen/sqs.ts";
import { XmppListener } from "./listen/xmpp.ts";
import type { Logger } from "./log.ts";
import { writePresence } from "./presence.ts";
import { writeFileAtomic } from "./sync/atomic-file.ts";
import { Backoff } from "./backoff.ts";
import type { Direction } from "./sync/transfer-queue.ts";
import { LocalRepo } from "./sync/local-repo.ts";
import { openForWriting } from "./sync/open-files.ts";
import { roundSummary } from "./sync/round-summary.ts";
import type { SyncReport } from "./sync/engine.ts";
import { watchFolder, type FolderWatcher } from "./sync/watcher.ts";

/**
 * `cloudbridge daemon`: keeps one folder in sync until stopped. A sync round runs at start, after each
 * burst of local changes (watcher, debounced), on each notification (XMPP, SQS, or a poll that saw
 * `info/refs` change), and every reconcile interval whatever was heard, so correctness never depends on
 * notifications. Failed rounds are retried with backoff. All state is in the folder's .git: kill -9 at any
 * moment and a restart carries on. One daemon per folder (a pid file guards it).
 */
export interface DaemonOptions {
  log: Logger;
  /** Resolves when the daemon should stop (signals, a test). */
  stopped: Promise<void>;
  /** Called once the daemon is watching and listening (after its first round). */
  onReady?: (info: DaemonStatus) => void;
}

export interface DaemonStatus {
  pid: number;
  folder: string;
  agent: string;
  listen: string;
  startedAt: string;
  lastSync?: string;
  lastError?: string;
  head?: string;
}

export function statusFile(folder: Folder | string): string {
  const root = typeof folder === "string" ? folder : folder.root;
  return join(root, ".git", "cloudbridge", "daemon.json");
}

export async function readDaemonStatus(root: string): Promise<(DaemonStatus & { running: boolean }) | undefined> {
  try {
    const status = JSON.parse(await readFile(statusFile(root), "utf8")) as DaemonStatus;
    return { ...status, running: isProcessAlive(status.pid) };
  } catch {
    return undefined;
  }
}

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
  const folder = await openSyncedFolder(root, { log });
  const { settings } = folder;
  const listener = chooseListener(folder, log);
  const status: DaemonStatus = {
    pid: process.pid,
    folder: folder.root,
    agent: settings.agent,
    listen: listener.kind,
    startedAt: new Date().toISOString(),
  };
  const saveStatus = () => writeFileAtomic(statusFile(folder), JSON.stringify(status, null, 2)).catch(() => undefined);
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
  // Files still being written are looked at again once they may have settled (sync/scanner.ts).
  const settle = { quietMs: settings.settleMs, briefMs: settings.debounceMs, maxWaitMs: settings.settleMaxMs, openForWriting };
  let settleTimer: NodeJS.Timeout | undefined;
  const settling = new Set<string>();

  const round = async (paths: string[] | undefined, why: string, localOnly = false): Promise<void> => {
    if (stopping) return;
    let report: SyncReport;
    try {
      report = await folder.engine.sync(paths, { localOnly, settle });
    } catch (error) {
      status.lastError = (error as Error).message;
      await saveStatus();
      const delay = Math.min(settings.reconcileIntervalMs, roundBackoff.next());
      log("error", "sync.failed", { why, message: (error as Error).message, retryInMs: delay });
      clearTimeout(retryTimer);
      if (!stopping) retryTimer = setTimeout(() => void round(undefined, "retry"), delay);
      return;
    }
    roundBackoff.reset();
    retryTransfers("up");
    status.lastSync = new Date().toISOString();
    status.head = report.head;
    delete status.lastError;
    await saveStatus();
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
      settleTimer = setTimeout(
        () => {
          const paths = [...settling];
          settling.clear();
          void round(paths, "settled", true);
        },
        Math.min(...report.settling.map((s) => s.dueInMs)),
      );
    }
    startDownloads();
  };

  // Downloads run beside the rounds; once content arrives, one more round publishes where it now is.
  // Asked again while downloading: jobs queued meanwhile were not in the running batch, so one more goes.
  let downloadAgain = false;
  const startDownloads = () => {
    if (downloads) downloadAgain = true;
    downloads ??= (async () => {
      try {
        do {
          downloadAgain = false;
          const { moved } = await folder.engine.fetchContent();
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

  await round(undefined, "start");
  const watcher: FolderWatcher = watchFolder(folder.root, (paths) => void round(paths, "local", true), {
    debounceMs: settings.debounceMs,
    tracked: () => folder.repo.cache.entries.keys(),
  });
  await watcher.ready;
  // Anything written while the watcher was starting is picked up by this scan.
  await round(undefined, "watching", true);
  try {
    // A poll that saw the bucket move is not a notification: the log says which it was.
    await listener.start(() => void round([], listener.kind === "poll" ? "polled" : "notified"));
    // A change another machine made before this listener was subscribed was heard by nobody here.
    await round([], "listening");
  } catch (error) {
    log("error", "listen.failed", { listen: listener.kind, message: (error as Error).message, fallback: "reconcile only" });
  }
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
  log("info", "daemon.ready", { folder: folder.root, listen: listener.kind });
  options.onReady?.(status);

  await options.stopped;
  stopping = true;
  log("info", "daemon.stopping", { folder: folder.root });
  clearInterval(reconcile);
  clearInterval(presenceTimer);
  clearTimeout(retryTimer);
  clearTimeout(transferTimer);
  clearTimeout(settleTimer);
  await watcher.close();
  await listener.stop();
  await folder.engine.sync([], { localOnly: true }).catch(() => undefined); // let a running round finish
  await downloads;
  await presence("stopped");
  await rm(statusFile(folder), { force: true });
  folder.close();
  log("info", "daemon.stopped", { folder: folder.root });
}

function chooseListener(folder: Folder, log: Logger): ChangeListener {
  const settings: FolderSettings = folder.settings;
  const onError = (kind: string) => (error: unknown) => log("warn", "listen.error", { listen: kind, message: (error as Error).message });
  const mode =
    settings.listen === "auto" ? (settings.xmppJid && settings.xmppService ? "xmpp" : settings.topicArn ? "sqs" : "poll") : settings.listen;
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
      onStatus: (s) => log("debug", "xmpp.status", { status: s }),
    });
  }
  if (mode === "sqs") {
    if (!settings.topicArn) throw new Error("listening by SQS needs cloudbridge.topicArn (the change topic's ARN)");
    return new SqsListener({ topicArn: settings.topicArn, agent: settings.agent, location: settings.location, onError: onError("sqs") });
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
