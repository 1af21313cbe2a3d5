import { lstat, open } from "node:fs/promises";
import { join } from "node:path";
import { annexedFiles, contentHoldings, type Holding } from "../../annex/index.ts";
import { writeSettings, type Wanted } from "../folder/index.ts";
import { pauseFolder, resumeFolder } from "../folder/pause.ts";
import { LOG_FORMAT, parseLog, type LogEntry } from "../history/git-log.ts";
import { listConflicts, resolveConflict, type Resolution } from "../history/conflicts.ts";
import { restorePath, type RestoreTarget } from "../history/restore.ts";
import { deletedFiles, fileVersions, treePath } from "../history/versions.ts";
import { readPresence, type PresenceRecord } from "../presence.ts";
import { bucketUsage, type BucketUsage } from "../status/bucket-usage.ts";
import { folderStatus, type FolderStatus } from "../status/folder-status.ts";
import { MAIN_REF } from "../sync/local-repo.ts";
import { unsafePathReason } from "../sync/safe-paths.ts";
import type { FolderHandle } from "./folder-handle.ts";

/**
 * The page's view of one folder: what each of its panels shows and what each of its buttons does, over the
 * same models the CLI uses (status, history, conflicts, restore, pause). The bucket is asked only for what a
 * person looks at: presence records at most once a minute while the page is open, the bucket's size when
 * its panel asks.
 */
const PRESENCE_TTL_MS = 60_000;
const MAX_OPEN_BYTES = 10 * 1024 * 1024;

export interface Machine extends Partial<PresenceRecord> {
  agent: string;
  description: string;
  online: boolean;
  here: boolean;
  holds: { keys: number; bytes: number };
}

export class FolderView {
  readonly handle: FolderHandle;
  private presence: { at: number; records: Promise<PresenceRecord[]> } | undefined;

  constructor(handle: FolderHandle) {
    this.handle = handle;
  }

  get id(): string {
    return this.handle.id;
  }

  private get folder() {
    return this.handle.folder;
  }

  /** The folder's status, the value `cloudbridge status --json` prints. */
  async status(): Promise<FolderStatus> {
    const status = await folderStatus(this.folder.root, { offline: true, folder: this.folder, live: this.handle.live() });
    // The machines as read at most once a minute while the page is open (never per update).
    const machines = await this.presenceRecords();
    return { ...status, cloud: { reachable: true, head: status.unpushed.cloudHead, machines } };
  }

  private presenceRecords(): Promise<PresenceRecord[]> {
    if (!this.presence || Date.now() - this.presence.at > PRESENCE_TTL_MS) {
      const records = readPresence(this.folder.store, this.folder.settings.location).catch(() => []);
      this.presence = { at: Date.now(), records };
    }
    return this.presence.records;
  }

  async machines(): Promise<Machine[]> {
    const [records, holdings] = await Promise.all([this.presenceRecords(), contentHoldings(this.folder.annex.branch)]);
    const byUuid = new Map<string, Holding>(holdings.map((h) => [h.uuid, h]));
    const here = this.folder.settings.agent;
    const machines = new Map<string, Machine>();
    for (const record of records) {
      const holding = byUuid.get(record.agent);
      machines.set(record.agent, {
        ...record,
        online:
          record.state === "running" && Date.now() - Date.parse(record.lastSeen) < 2 * this.folder.settings.presenceIntervalMs + 60_000,
        here: record.agent === here,
        holds: { keys: holding?.keys ?? 0, bytes: holding?.bytes ?? 0 },
      });
    }
    for (const holding of holdings) {
      if (machines.has(holding.uuid)) continue;
      const cloud = holding.uuid === this.folder.annex.cloudUuid;
      machines.set(holding.uuid, {
        agent: holding.uuid,
        description: cloud ? "the cloud (bucket)" : holding.description,
        online: cloud,
        here: holding.uuid === here,
        holds: { keys: holding.keys, bytes: holding.bytes },
      });
    }
    return [...machines.values()];
  }

  conflicts() {
    return listConflicts(this.folder.repo.git);
  }

  /** The last changes, in files: who changed what and when. */
  async recent(count = 30): Promise<LogEntry[]> {
    const { stdout, code } = await this.folder.repo.git.run(
      ["log", "-z", `--format=${LOG_FORMAT}`, "--name-status", "--no-merges", "-n", String(count), MAIN_REF, "--"],
      { okCodes: [128] },
    );
    return code === 0 ? parseLog(stdout) : [];
  }

  versions(path: string) {
    return fileVersions(this.folder.repo.git, treePath(path));
  }

  deleted() {
    return deletedFiles(this.folder.repo.git);
  }

  private usage: Promise<BucketUsage> | undefined;

  /** Computed when asked (`refresh`), else the last answer: one listing of the bucket per look, not per update. */
  async bucket(refresh: boolean): Promise<BucketUsage> {
    if (refresh || !this.usage) {
      const current = new Set((await annexedFiles(this.folder.gitDir, this.folder.root, [])).map((f) => f.key));
      this.usage = bucketUsage(
        this.folder.store,
        this.folder.settings.location.bucket,
        this.folder.layout,
        new Map([[this.folder.settings.location.repo, current]]),
      );
      this.usage.catch(() => (this.usage = undefined));
    }
    return this.usage;
  }

  /** A file of the folder, for "open": its bytes (at most 10 MiB), never through a symlink. */
  async file(path: string): Promise<{ name: string; body: Buffer } | undefined> {
    const name = treePath(path);
    if (!name || unsafePathReason(name)) return undefined;
    const parts = name.split("/");
    for (let i = 1; i <= parts.length; i++) {
      const stats = await lstat(join(this.folder.root, ...parts.slice(0, i))).catch(() => undefined);
      if (!stats || stats.isSymbolicLink() || (i < parts.length ? !stats.isDirectory() : !stats.isFile())) return undefined;
    }
    const handle = await open(join(this.folder.root, name), "r");
    try {
      const body = Buffer.alloc(Math.min((await handle.stat()).size, MAX_OPEN_BYTES));
      await handle.read(body, 0, body.length, 0);
      return { name, body };
    } finally {
      await handle.close();
    }
  }

  async resolve(file: string, resolution: Resolution) {
    const result = await resolveConflict(this.folder.repo, treePath(file), resolution);
    await this.handle.sync(result.changed);
    return result;
  }

  async restore(path: string, target: RestoreTarget) {
    const result = await restorePath(this.folder.repo, this.folder.annex, treePath(path), target);
    await this.handle.sync(result.restored.map((r) => r.path));
    return result;
  }

  pause() {
    return pauseFolder(this.folder.root);
  }

  resume() {
    return resumeFolder(this.folder.root);
  }

  syncNow() {
    return this.handle.sync();
  }

  async setWanted(wanted: Wanted): Promise<void> {
    await writeSettings(this.folder.gitDir, { wanted });
    this.folder.content.setWanted(wanted);
    if (wanted === "everything") void this.handle.sync();
  }

  async setLimits(limits: { upload?: number; download?: number }): Promise<void> {
    await writeSettings(this.folder.gitDir, {
      ...(limits.upload !== undefined ? { uploadLimit: String(limits.upload) } : {}),
      ...(limits.download !== undefined ? { downloadLimit: String(limits.download) } : {}),
    });
    if (limits.upload !== undefined) this.folder.annex.limits.up.setRate(limits.upload);
    if (limits.download !== undefined) this.folder.annex.limits.down.setRate(limits.download);
  }
}
