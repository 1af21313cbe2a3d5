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

  async add(jobs: Iterable<TransferJob>): Promise<void> {
    for (const job of jobs) {
      assertAnnexKey(job.key);
      await mkdir(join(this.dir, job.direction), { recursive: true });
      await writeFileAtomic(join(this.dir, job.direction, job.key), JSON.stringify({ path: job.path }));
    }
  }

  async list(direction?: Direction): Promise<TransferJob[]> {
    const jobs: TransferJob[] = [];
    for (const d of direction ? [direction] : (["up", "down"] as const)) {
      const names = await readdir(join(this.dir, d)).catch(() => [] as string[]);
      for (const key of names.sort()) {
        if (key.startsWith(".")) continue;
        const body = await readFile(join(this.dir, d, key), "utf8").catch(() => "{}");
        let path: string | undefined;
        try {
          path = (JSON.parse(body) as { path?: string }).path;
        } catch {
          path = undefined;
        }
        jobs.push({ direction: d, key, ...(path ? { path } : {}) });
      }
    }
    return jobs;
  }

  async done(job: TransferJob): Promise<void> {
    await rm(join(this.dir, job.direction, job.key), { force: true });
  }
}
