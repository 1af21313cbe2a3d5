import type { Worker } from "node:worker_threads";

/**
 * Hashes a file being written out of order (a ranged download) from its start, as far as its bytes are
 * known to be there, on a worker thread: the daemon's one thread, which receives the ranges, writes them
 * and serves everything else, no longer also reads 100 MiB back and hashes it (about 100 ms of that
 * thread for a 100 MiB download, while the ranges behind waited). The bytes are read back from the page
 * cache, where they were just written. One worker serves every download of the process; it is started
 * with the first and lets the process exit when idle.
 */
export class FileHasher {
  private readonly id = nextJob++;
  private readonly answer: Promise<{ hex: string; size: number }>;
  private told = 0;
  private released = false;

  constructor(path: string, algorithm: string) {
    const worker = hashWorker();
    this.answer = new Promise((resolve, reject) => {
      waiting.set(this.id, { resolve, reject });
    });
    this.answer.catch(() => undefined); // a failure is thrown by digest()
    busy(+1);
    worker.postMessage({ id: this.id, open: path, algorithm });
  }

  /** Bytes [0, upTo) of the file are written. */
  advance(upTo: number): void {
    if (upTo <= this.told) return;
    this.told = upTo;
    worker?.postMessage({ id: this.id, upTo });
  }

  /** The digest of the bytes told written (all of the file, once advance was told its size). */
  async digest(): Promise<{ hex: string; size: number }> {
    worker?.postMessage({ id: this.id, finish: true });
    try {
      return await this.answer;
    } finally {
      this.release();
    }
  }

  /** Gives up on this file (a failed download). */
  abandon(): void {
    if (waiting.delete(this.id)) worker?.postMessage({ id: this.id, abandon: true });
    this.release();
  }

  private release(): void {
    if (this.released) return;
    this.released = true;
    busy(-1);
  }
}

let worker: Worker | undefined;
let nextJob = 0;
let jobs = 0;
const waiting = new Map<number, { resolve: (r: { hex: string; size: number }) => void; reject: (e: Error) => void }>();

function hashWorker(): Worker {
  if (worker) return worker;
  // Loaded with the first ranged download, not with the module: a process that transfers nothing (a
  // `cloudbridge sync` with nothing to do) does not pay for loading it.
  const { Worker } = process.getBuiltinModule("node:worker_threads");
  const started = new Worker(new URL("./file-hash-worker.ts", import.meta.url));
  started.on("message", ({ id, hex, size, error }: { id: number; hex?: string; size?: number; error?: string }) => {
    const job = waiting.get(id);
    waiting.delete(id);
    if (error !== undefined) job?.reject(new Error(`hashing the download failed: ${error}`));
    else job?.resolve({ hex: hex!, size: size! });
  });
  const failed = (error: Error) => {
    if (worker === started) worker = undefined;
    for (const job of waiting.values()) job.reject(error);
    waiting.clear();
  };
  started.on("error", failed);
  started.on("exit", (code) => failed(new Error(`the hashing thread exited (${code})`)));
  worker = started;
  if (jobs === 0) started.unref();
  return started;
}

/** The worker keeps the process alive only while a file is being hashed. */
function busy(change: number): void {
  jobs += change;
  if (jobs > 0) worker?.ref();
  else worker?.unref();
}
