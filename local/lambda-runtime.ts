import { randomUUID } from "node:crypto";
import { Worker } from "node:worker_threads";
import { LocalCloudError } from "./errors.ts";

/**
 * Runs a real Lambda handler module the way Lambda does, on this machine: in its own worker thread
 * (its own `process.env`, module state kept between invocations like a warm container), one event at a
 * time, with a Lambda-shaped context. The handler module is the same file that is bundled for AWS.
 */
export interface LocalFunction {
  readonly name: string;
  invoke(event: unknown): Promise<unknown>;
  stop(): Promise<void>;
}

export function startLocalFunction(options: {
  name: string;
  /** File URL of the handler module. */
  module: URL;
  exportName?: string;
  env: Record<string, string>;
  timeoutMs?: number;
}): LocalFunction {
  const worker = new Worker(new URL("./lambda-worker.ts", import.meta.url), {
    workerData: { module: options.module.href, exportName: options.exportName ?? "handler", name: options.name },
    env: options.env,
  });
  worker.unref();
  const waiting = new Map<string, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  let queue: Promise<unknown> = Promise.resolve();
  let failure: Error | undefined;

  worker.on("message", (message: { id: string; result?: unknown; error?: { message: string; stack?: string } }) => {
    const pending = waiting.get(message.id);
    if (!pending) return;
    waiting.delete(message.id);
    if (message.error) {
      const error = new LocalCloudError("local-function-failed", `${options.name}: ${message.error.message}`);
      error.stack = message.error.stack ?? error.stack;
      pending.reject(error);
    } else {
      pending.resolve(message.result);
    }
  });
  worker.on("error", (error) => {
    failure = error;
    for (const pending of waiting.values()) pending.reject(error);
    waiting.clear();
  });

  const invokeOnce = (event: unknown): Promise<unknown> =>
    new Promise((resolve, reject) => {
      if (failure) return reject(failure);
      const id = randomUUID();
      const timer = setTimeout(() => {
        waiting.delete(id);
        reject(new LocalCloudError("local-function-timeout", `${options.name}: timed out after ${options.timeoutMs ?? 30_000} ms`));
      }, options.timeoutMs ?? 30_000);
      waiting.set(id, {
        resolve: (value) => (clearTimeout(timer), resolve(value)),
        reject: (error) => (clearTimeout(timer), reject(error)),
      });
      worker.postMessage({ id, event });
    });

  return {
    name: options.name,
    // One invocation at a time per function, as one Lambda execution environment runs them.
    invoke: (event) => {
      const result = queue.then(() => invokeOnce(event));
      queue = result.catch(() => undefined);
      return result;
    },
    stop: async () => {
      await worker.terminate();
    },
  };
}
