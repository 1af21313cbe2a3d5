import { mkdir, readdir, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { assertAnnexKey } from "../../protocol/annex-key.ts";
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

export interface TransferRunner {
  run(job: TransferJob): Promise<void>;
}

export class TransferQueue {
  readonly dir: string;
  private readonly failures = new Map<string, { attempts: number; notBefore: number }>();
  private draining: Promise<number> | undefined;

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
    this.failures.delete(`${job.direction}/${job.key}`);
  }

  /**
   * Runs every due job (uploads first, so what this agent committed reaches the cloud before it fetches
   * more); a failed job stays queued and waits longer each time. Returns the number of jobs left.
   */
  drain(runner: TransferRunner, options: { concurrency?: number; onError?: (job: TransferJob, error: unknown) => void } = {}): Promise<number> {
    this.draining ??= this.drainOnce(runner, options).finally(() => (this.draining = undefined));
    return this.draining;
  }

  private async drainOnce(runner: TransferRunner, options: { concurrency?: number; onError?: (job: TransferJob, error: unknown) => void }): Promise<number> {
    for (const direction of ["up", "down"] as const) {
      const now = Date.now();
      const due = (await this.list(direction)).filter((job) => (this.failures.get(`${direction}/${job.key}`)?.notBefore ?? 0) <= now);
      let next = 0;
      const worker = async () => {
        while (next < due.length) {
          const job = due[next++]!;
          try {
            await runner.run(job);
            await this.done(job);
          } catch (error) {
            const id = `${direction}/${job.key}`;
            const attempts = (this.failures.get(id)?.attempts ?? 0) + 1;
            this.failures.set(id, { attempts, notBefore: Date.now() + Math.min(300_000, 1000 * 2 ** attempts) });
            options.onError?.(job, error);
          }
        }
      };
      await Promise.all(Array.from({ length: options.concurrency ?? 2 }, worker));
    }
    return (await this.list()).length;
  }
}
