import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { isProcessAlive } from "../../annex/index.ts";

/**
 * One process at a time changes a synced folder's local state (`main`, the index, the stat cache, the
 * files): the daemon's rounds and a `cloudbridge sync` run by hand beside it take turns instead of moving
 * `main` under each other. The lock is a file created with O_EXCL that holds the owner's pid; an owner that
 * is no longer running (kill -9, a crash) is taken over. Within one process the lock is shared (the
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
  private readonly file: string;
  private readonly options: FolderLockOptions;
  private holders = 0;
  private owned = false;
  private acquired: Promise<void> | undefined;

  constructor(file: string, options: FolderLockOptions = {}) {
    this.file = file;
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
      const owner = this.owner();
      if (owner === undefined) {
        if (attempt < 100) continue; // being written this instant
        return -1;
      }
      if (owner === process.pid ? this.owned : isProcessAlive(owner)) return owner;
      this.breakStale(owner);
    }
  }

  /** The pid of another live process that holds the folder now, if one does (nothing is taken or waited for). */
  busyWith(): number | undefined {
    const owner = this.owner();
    return owner !== undefined && owner !== process.pid && isProcessAlive(owner) ? owner : undefined;
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
      const owner = this.owner();
      if (owner !== undefined && (owner === process.pid ? !this.owned : !isProcessAlive(owner))) {
        tookOver = this.breakStale(owner) || tookOver;
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
    try {
      unlinkSync(this.file);
    } catch {
      // Already gone: nothing to release.
    }
  }

  private tryCreate(): boolean {
    let fd: number;
    try {
      fd = openSync(this.file, "wx", 0o644);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "EEXIST") return false;
      throw error;
    }
    try {
      writeSync(fd, `${process.pid}\n`);
    } catch (error) {
      // A lock file without a pid (a full disk) would be waited on for ever, by this process too: remove it.
      closeSync(fd);
      unlinkSync(this.file);
      throw error;
    }
    closeSync(fd);
    this.owned = true;
    return true;
  }

  /** The pid in the lock file; undefined while it is being written (or just went away). */
  private owner(file = this.file): number | undefined {
    try {
      const pid = Number.parseInt(readFileSync(file, "utf8"), 10);
      return Number.isInteger(pid) && pid > 0 ? pid : undefined;
    } catch {
      return undefined;
    }
  }

  /**
   * Removes the lock of a dead owner. Two waiters may find the same dead owner at once: a second lock file
   * (`.break`, same rules) lets only one of them look again and remove it, so neither removes a lock that
   * a live process has just taken.
   */
  private breakStale(deadOwner: number): boolean {
    const breaker = `${this.file}.break`;
    let fd: number;
    try {
      fd = openSync(breaker, "wx", 0o644);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      const other = this.owner(breaker);
      if (other !== undefined && !isProcessAlive(other)) unlinkQuietly(breaker);
      return false;
    }
    try {
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
      if (this.owner() !== deadOwner) return false;
      unlinkQuietly(this.file);
      return true;
    } finally {
      unlinkQuietly(breaker);
    }
  }
}

function unlinkQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // gone already
  }
}
