import { createHash, type Hash } from "node:crypto";
import { openSync, readSync, closeSync } from "node:fs";
import { parentPort } from "node:worker_threads";

/**
 * The inside of FileHasher's worker: each job hashes one file from its start, as far as it is told the
 * bytes are written, and answers the digest when told the file is whole. Synchronous reads: this thread
 * does nothing else, and the bytes were just written (they are in the page cache).
 */
type Message =
  | { id: number; open: string; algorithm: string }
  | { id: number; upTo: number }
  | { id: number; finish: true }
  | { id: number; abandon: true };

interface Job {
  fd: number;
  hash: Hash;
  position: number;
}

const jobs = new Map<number, Job>();
const buffer = Buffer.allocUnsafe(1024 * 1024);

parentPort!.on("message", (message: Message) => {
  const job = jobs.get(message.id);
  try {
    if ("open" in message) {
      jobs.set(message.id, { fd: openSync(message.open, "r"), hash: createHash(message.algorithm), position: 0 });
    } else if ("upTo" in message) {
      if (job) read(job, message.upTo);
    } else if ("finish" in message) {
      if (!job) return;
      jobs.delete(message.id);
      closeSync(job.fd);
      parentPort!.postMessage({ id: message.id, hex: job.hash.digest("hex"), size: job.position });
    } else if (job) {
      jobs.delete(message.id);
      closeSync(job.fd);
    }
  } catch (error) {
    if (job) {
      jobs.delete(message.id);
      try {
        closeSync(job.fd);
      } catch {
        // already closed
      }
    }
    parentPort!.postMessage({ id: message.id, error: (error as Error).message });
  }
});

function read(job: Job, upTo: number): void {
  while (job.position < upTo) {
    const bytesRead = readSync(job.fd, buffer, 0, Math.min(buffer.length, upTo - job.position), job.position);
    if (bytesRead === 0) throw new Error(`the file is shorter than the ${upTo} bytes written to it`);
    job.hash.update(buffer.subarray(0, bytesRead));
    job.position += bytesRead;
  }
}
