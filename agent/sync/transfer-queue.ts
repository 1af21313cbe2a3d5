import { mkdir, readdir, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { assertAnnexKey } from "../../protocol/index.ts";
import { writeFileAtomic } from "./atomic-file.ts";

/**
 * Content transfers waiting to happen, one file per job under `.git/cloudbridge/transfers/<up|down>/<KEY>`,
 * created atomically before the work and removed only after it succeeded. A daemon killed (-9) at any
 * moment finds its jobs again at start; doing a job twice is harmless (uploads and downloads check
 * what is already there), so the queue needs no journal beyond the files themselves.
 */
export type Direction = "up" | "down";

export interface TransferJob {
  direction: Direction;
  key: string;
  /** A work-tree path that uses the key (for progress lines and the object's metadata). */
  path?: string;
  /**
   * Why the last attempt failed (content damaged in the cloud, missing there, the network…), kept with the
   * job so that `status` and a one-shot `sync` can say why a file has no content yet; the next attempt's
   * outcome replaces it.
   */
  failed?: string;
}

/** A transfer in flight, as `status` shows it: bytes done of the total. */
export interface RunningTransfer extends TransferJob {
  done: number;
  total: number;
}

export class TransferQueue {
  readonly dir: string;

  constructor(stateDir: string) {
    this.dir = join(stateDir, "transfers");
  }

  /**
   * Queues `jobs`. A job queued already keeps why its last attempt failed: only an attempt's outcome replaces
   * that (`fail`, `done`). A file looked at again and found to be the same content (a scan re-reading a file
   * written just before it, as racy-git asks; `status`'s scan) asks for its upload again, and took the reason
   * away, so `status` said nothing of a file the cloud would not take.
   */
  async add(jobs: Iterable<TransferJob>): Promise<void> {
    for (const job of jobs) {
      const queued = await this.read(job.direction, job.key);
      if (queued && queued.path === job.path) continue;
      await this.write(job, { path: job.path, ...(queued?.failed ? { failed: queued.failed } : {}) });
    }
  }

  async list(direction?: Direction): Promise<TransferJob[]> {
    const jobs: TransferJob[] = [];
    for (const d of direction ? [direction] : (["up", "down"] as const)) {
      const names = await readdir(join(this.dir, d)).catch(() => [] as string[]);
      for (const key of names.sort()) {
        if (key.startsWith(".")) continue;
        jobs.push((await this.read(d, key)) ?? { direction: d, key });
      }
    }
    return jobs;
  }

  /** The job queued for `key`, or undefined when there is none. A record that cannot be read is a job with no path. */
  private async read(direction: Direction, key: string): Promise<TransferJob | undefined> {
    let body: string;
    try {
      body = await readFile(join(this.dir, direction, key), "utf8");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      body = "{}";
    }
    let record: { path?: unknown; failed?: unknown } = {};
    try {
      record = (JSON.parse(body) ?? {}) as typeof record;
    } catch {
      record = {};
    }
    const path = typeof record.path === "string" ? record.path : undefined;
    const failed = typeof record.failed === "string" ? record.failed : undefined;
    return { direction, key, ...(path ? { path } : {}), ...(failed ? { failed } : {}) };
  }

  /** The job stays queued, with why its attempt failed (replaced atomically, as add writes it). */
  async fail(job: TransferJob, reason: string): Promise<void> {
    await this.write(job, { path: job.path, failed: reason });
  }

  async done(job: TransferJob): Promise<void> {
    await rm(join(this.dir, job.direction, job.key), { force: true });
  }

  private async write(job: TransferJob, record: { path: string | undefined; failed?: string }): Promise<void> {
    assertAnnexKey(job.key);
    await mkdir(join(this.dir, job.direction), { recursive: true });
    await writeFileAtomic(join(this.dir, job.direction, job.key), JSON.stringify(record));
  }
}
