import { setTimeout as sleep } from "node:timers/promises";
import { isProcessAlive, LockFile } from "../../annex/index.ts";

/**
 * One process at a time changes a synced folder's local state (`main`, the index, the stat cache, the
 * files): the daemon's rounds and a `cloudbridge sync` run by hand beside it take turns instead of moving
 * `main` under each other. The lock is the annex's LockFile (O_EXCL, the owner's pid, a dead owner taken
 * over), the same mechanism as the content lock's. Within one process the lock is shared (the
 * daemon's downloads put content in place while a round runs, as before): the file is created when the
 * first holder arrives and removed when the last one leaves, and `onAcquired` runs each time the process
 * gets the folder back, so it re-reads what another process may have changed meanwhile.
 */
export interface FolderLockOptions {
  /** Runs after the lock was taken and before any holder's work (re-read state another process changed). */
  onAcquired?: (tookOverFromDeadOwner: boolean) => Promise<void>;
  /** Called once per acquisition that has to wait, with the owner's pid (to tell a person why nothing happens). */
  onWait?: (owner: number) => void;
  /**
   * Runs when the last holder of this process is about to leave, before the lock file goes (write what the
   * holders kept in memory, so the next process to take the folder reads it). Holders arriving meanwhile
   * share the lock; one that leaves while this runs leaves it to this call.
   */
  beforeRelease?: () => Promise<void>;
}

export class FolderLock {
  private readonly file: LockFile;
  private readonly options: FolderLockOptions;
  private holders = 0;
  private owned = false;
  private acquired: Promise<void> | undefined;

  constructor(file: string, options: FolderLockOptions = {}) {
    this.file = new LockFile(file);
    this.options = options;
  }

  /** Runs `work` while this process holds the folder. */
  async hold<T>(work: () => Promise<T>): Promise<T> {
    this.holders += 1;
    try {
      this.acquired ??= this.acquire();
      await this.acquired;
      const result = await work();
      if (this.holders === 1) await this.options.beforeRelease?.();
      return result;
    } catch (error) {
      if (this.holders === 1 && this.owned) await this.options.beforeRelease?.().catch(() => undefined);
      throw error;
    } finally {
      this.holders -= 1;
      if (this.holders === 0) this.release();
    }
  }

  /**
   * Takes the lock without waiting and keeps it until `releaseClaim` (or the process ends): undefined when
   * taken, else the pid of the live process that holds it (a dead owner's lock is taken over).
   */
  tryClaim(): number | undefined {
    for (let attempt = 0; ; attempt++) {
      if (this.tryCreate()) {
        this.holders += 1;
        return undefined;
      }
      const owner = this.file.owner();
      if (owner === undefined) {
        if (attempt < 100) continue; // being written this instant
        return -1;
      }
      if (owner === process.pid ? this.owned : isProcessAlive(owner)) return owner;
      this.file.breakStale(owner);
    }
  }

  /** The pid of another live process that holds the folder now, if one does (nothing is taken or waited for). */
  busyWith(): number | undefined {
    return this.file.liveOtherOwner();
  }

  releaseClaim(): void {
    this.holders -= 1;
    if (this.holders === 0) this.release();
  }

  private async acquire(): Promise<void> {
    let tookOver = false;
    let told = false;
    for (let wait = 5; ; wait = Math.min(wait * 2, 100)) {
      if (this.tryCreate()) break;
      const owner = this.file.owner();
      if (owner !== undefined && (owner === process.pid ? !this.owned : !isProcessAlive(owner))) {
        tookOver = this.file.breakStale(owner) || tookOver;
        continue;
      }
      if (!told && owner !== undefined) {
        told = true;
        this.options.onWait?.(owner);
      }
      await sleep(wait);
    }
    await this.options.onAcquired?.(tookOver);
  }

  private release(): void {
    this.acquired = undefined;
    if (!this.owned) return;
    this.owned = false;
    this.file.remove();
  }

  private tryCreate(): boolean {
    if (!this.file.tryCreate()) return false;
    this.owned = true;
    return true;
  }
}
