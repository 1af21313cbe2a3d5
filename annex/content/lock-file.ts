import { closeSync, openSync, readFileSync, statSync, unlinkSync, writeSync } from "node:fs";
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

  /**
   * The pid in the file; undefined while it is being written (or just went away). A file that has held no
   * pid for longer than any writer takes (UNWRITTEN_MS) was left by a process killed between creating it and
   * writing its pid: it names no one, so nothing would ever take it over, and every process waiting for the
   * lock would wait for ever. Such a file is removed here (as breakStale removes a dead owner's), and the
   * waiter's next try creates its own.
   */
  owner(): number | undefined {
    const pid = pidIn(this.path);
    if (pid === undefined && unwrittenFor(this.path) > UNWRITTEN_MS) this.withBreaker(() => unwrittenFor(this.path) > UNWRITTEN_MS);
    return pid;
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
    return this.withBreaker(() => pidIn(this.path) === deadOwner);
  }

  /** Removes the lock file if `stillStale` says so once this process holds the `.break` file; true when it did. */
  private withBreaker(stillStale: () => boolean): boolean {
    const breaker = `${this.path}.break`;
    let fd: number;
    try {
      fd = openSync(breaker, "wx", 0o644);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      // A breaker whose process died, or that was killed before it wrote its pid, is removed for the next try.
      const other = pidIn(breaker);
      if (other === undefined ? unwrittenFor(breaker) > UNWRITTEN_MS : !isProcessAlive(other)) unlinkQuietly(breaker);
      return false;
    }
    try {
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
      if (!stillStale()) return false;
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

/** Longer than any process takes between creating a lock file and writing its pid into it (two system calls). */
const UNWRITTEN_MS = 5000;

/** How long the file at `path` has existed holding no pid (its age when it holds none; 0 when it holds one or is gone). */
function unwrittenFor(path: string): number {
  try {
    const info = statSync(path);
    return pidIn(path) === undefined ? Date.now() - info.mtimeMs : 0;
  } catch {
    return 0;
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
