import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from "node:fs";
import { isProcessAlive } from "./process-alive.ts";

/**
 * The one lock-file mechanism between processes: a file created with O_EXCL that holds its owner's pid,
 * and whose owner, once no longer running (kill -9, a crash), is taken over. What a lock guards and how
 * long it is waited for are its user's: the annex's content lock (one key, exclusive, bounded wait) and
 * the agent's folder lock (shared within a process, waited for as long as it takes) are both built on it.
 */
export class LockFile {
  readonly path: string;

  constructor(path: string) {
    this.path = path;
  }

  /**
   * Creates the file holding this process's pid: false when it exists already. A pid that cannot be written
   * (a full disk) removes the file again and throws: a lock file without a pid would be waited on for ever.
   */
  tryCreate(): boolean {
    let fd: number;
    try {
      fd = openSync(this.path, "wx", 0o644);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "EEXIST") return false;
      throw error;
    }
    try {
      writeSync(fd, `${process.pid}\n`);
    } catch (error) {
      closeSync(fd);
      unlinkQuietly(this.path);
      throw error;
    }
    closeSync(fd);
    return true;
  }

  /** The pid in the file; undefined while it is being written (or just went away). */
  owner(): number | undefined {
    return pidIn(this.path);
  }

  /** The owner, when it is a live process other than this one. */
  liveOtherOwner(): number | undefined {
    const owner = this.owner();
    return owner !== undefined && owner !== process.pid && isProcessAlive(owner) ? owner : undefined;
  }

  /**
   * Removes the lock of a dead owner; true when it did. Two waiters may find the same dead owner at once: a
   * second lock file (`.break`, same rules) lets only one of them look again and remove it, so neither
   * removes a lock that a live process has just taken.
   */
  breakStale(deadOwner: number): boolean {
    const breaker = `${this.path}.break`;
    let fd: number;
    try {
      fd = openSync(breaker, "wx", 0o644);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      const other = pidIn(breaker);
      if (other !== undefined && !isProcessAlive(other)) unlinkQuietly(breaker);
      return false;
    }
    try {
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
      if (this.owner() !== deadOwner) return false;
      unlinkQuietly(this.path);
      return true;
    } finally {
      unlinkQuietly(breaker);
    }
  }

  remove(): void {
    unlinkQuietly(this.path);
  }
}

function pidIn(path: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(path, "utf8"), 10);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

function unlinkQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // gone already
  }
}
