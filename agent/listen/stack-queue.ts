import { createHash } from "node:crypto";
import { mkdirSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { GetQueueAttributesCommand, SQSClient } from "@aws-sdk/client-sqs";
import { CONNECT_TIMEOUT_MS, IDLE_TIMEOUT_MS } from "../../objectstore/index.ts";
import type { ChangeMessage, RemoteLocation } from "../../protocol/index.ts";
import { FolderLock } from "../sync/folder-lock.ts";
import { isRelevant, type ChangeListener, type ListenerHealth } from "./listener.ts";
import { readQueue } from "./sqs.ts";

/**
 * The agent's queue that the stack created, read and never created or subscribed (the agent's key may
 * only receive and delete on it). The queue is per agent and a machine may sync several folders as that
 * agent, so each queue has exactly one reader per machine: `StackQueues` (one per daemon process) runs one
 * long-poll loop per queue and hands each message to every folder it is about (bucket, prefix, repo), and
 * a lock file per queue in the machine's state directory keeps a second daemon process off it (it is told
 * which process reads the queue, and listens by polling instead).
 */
export interface QueueClientConfig {
  endpoint?: string;
  region?: string;
  credentials?:
    { accessKeyId: string; secretAccessKey: string } | (() => Promise<{ accessKeyId: string; secretAccessKey: string; expiration?: Date }>);
}

export interface StackQueueSubscription {
  queueUrl: string;
  client: QueueClientConfig;
  location: RemoteLocation;
  agent: string;
  onError?: (error: unknown) => void;
  /** Called after each receive that worked (the daemon's listener health). */
  onReceive?: () => void;
  /** Long-poll wait (seconds, 1–20). */
  waitSeconds?: number;
}

/** Where this machine's daemons keep what is theirs across folders ($XDG_STATE_HOME/cloudbridge). */
export function machineStateDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.XDG_STATE_HOME || join(homedir(), ".local", "state"), "cloudbridge");
}

export class QueueBusy extends Error {
  readonly owner: number;
  constructor(queueUrl: string, owner: number) {
    super(
      `the agent's queue ${queueName(queueUrl)} is read by another cloudbridge daemon on this machine (pid ${owner}): one daemon serves all of a machine's folders — stop that one and run \`cloudbridge daemon DIR1 DIR2 …\` with every folder.`,
    );
    this.owner = owner;
  }
}

export function queueName(queueUrl: string): string {
  return queueUrl.split("/").at(-1) ?? queueUrl;
}

interface Subscriber {
  location: RemoteLocation;
  agent: string;
  onHint: (message: ChangeMessage | undefined) => void;
  onError: ((error: unknown) => void) | undefined;
  onReceive: (() => void) | undefined;
}

/** One long-poll loop on one queue, for every folder of this process that listens on it. */
class QueueReader {
  private readonly subscribers = new Set<Subscriber>();
  private readonly sqs: SQSClient;
  private readonly lock: FolderLock;
  private readonly abort = new AbortController();
  private loop: Promise<void> | undefined;
  readonly health: ListenerHealth = { working: false };
  requests = 0;
  private readonly queueUrl: string;
  private readonly waitSeconds: number;

  constructor(queueUrl: string, client: QueueClientConfig, stateDir: string, waitSeconds: number) {
    this.queueUrl = queueUrl;
    this.waitSeconds = waitSeconds;
    const requestHandler = { connectionTimeout: CONNECT_TIMEOUT_MS, socketTimeout: IDLE_TIMEOUT_MS + waitSeconds * 1000 };
    // Queue URLs of emulators name hosts that do not resolve: send to the configured endpoint instead.
    this.sqs = new SQSClient({ ...client, useQueueUrlAsEndpoint: false, requestHandler });
    const dir = join(stateDir, "queues");
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    this.lock = new FolderLock(join(dir, `${createHash("sha256").update(queueUrl).digest("hex").slice(0, 32)}.pid`));
  }

  private verified: Promise<void> | undefined;

  /** One GetQueueAttributes (which the agent's key may call on its queue): the key and the queue work, or why not. */
  verify(): Promise<void> {
    this.verified ??= (async () => {
      this.requests += 1;
      try {
        await this.sqs.send(new GetQueueAttributesCommand({ QueueUrl: this.queueUrl, AttributeNames: ["ApproximateNumberOfMessages"] }));
        this.health.working = true;
      } catch (error) {
        this.verified = undefined;
        throw new Error(`the agent's queue ${queueName(this.queueUrl)} cannot be read: ${(error as Error).message}`, { cause: error });
      }
    })();
    return this.verified;
  }

  add(subscriber: Subscriber): void {
    if (!this.loop) {
      const owner = this.lock.tryClaim();
      if (owner !== undefined) throw new QueueBusy(this.queueUrl, owner);
      this.loop = this.receive();
    }
    this.subscribers.add(subscriber);
  }

  /** True when nobody listens any more (the reader stopped and let go of the queue). */
  async remove(subscriber: Subscriber): Promise<boolean> {
    this.subscribers.delete(subscriber);
    if (this.subscribers.size > 0) return false;
    if (this.loop) {
      this.abort.abort();
      await this.loop;
      this.lock.releaseClaim();
    }
    this.sqs.destroy();
    return true;
  }

  private receive(): Promise<void> {
    return readQueue({
      sqs: this.sqs,
      queueUrl: this.queueUrl,
      waitSeconds: this.waitSeconds,
      signal: this.abort.signal,
      requested: () => void (this.requests += 1),
      received: (changes) => {
        // Every message goes: one about a repository no folder here syncs is of no use to this agent either.
        const hints = new Map<Subscriber, ChangeMessage>();
        for (const change of changes)
          for (const subscriber of this.subscribers)
            if (isRelevant(change, subscriber.location, subscriber.agent)) hints.set(subscriber, change);
        for (const [subscriber, change] of hints) subscriber.onHint(change);
      },
      working: (recovered) => {
        this.health.working = true;
        delete this.health.error;
        for (const subscriber of this.subscribers) {
          subscriber.onReceive?.();
          if (recovered) subscriber.onHint(undefined);
        }
      },
      failed: (error) => {
        this.health.working = false;
        this.health.error = (error as Error).message;
        for (const subscriber of this.subscribers) subscriber.onError?.(error);
      },
    });
  }
}

/** The stack queues of one daemon process: at most one reader per queue. */
export class StackQueues {
  private readonly readers = new Map<string, QueueReader>();
  private readonly stateDir: string;

  constructor(stateDir = machineStateDir()) {
    this.stateDir = stateDir;
  }

  listener(subscription: StackQueueSubscription): ChangeListener {
    return new StackQueueListener(this, subscription);
  }

  /** @internal */
  readerFor(subscription: StackQueueSubscription): QueueReader {
    let reader = this.readers.get(subscription.queueUrl);
    if (!reader) {
      reader = new QueueReader(subscription.queueUrl, subscription.client, this.stateDir, subscription.waitSeconds ?? 20);
      this.readers.set(subscription.queueUrl, reader);
    }
    return reader;
  }

  /** @internal */
  async release(queueUrl: string, reader: QueueReader, subscriber: Subscriber): Promise<void> {
    if (await reader.remove(subscriber)) this.readers.delete(queueUrl);
  }
}

class StackQueueListener implements ChangeListener {
  readonly kind = "sqs" as const;
  private readonly queues: StackQueues;
  private readonly subscription: StackQueueSubscription;
  private reader: QueueReader | undefined;
  private subscriber: Subscriber | undefined;

  constructor(queues: StackQueues, subscription: StackQueueSubscription) {
    this.queues = queues;
    this.subscription = subscription;
  }

  get requests(): number {
    return this.reader?.requests ?? 0;
  }

  get detail(): string {
    return `the stack's queue ${queueName(this.subscription.queueUrl)}`;
  }

  get health(): ListenerHealth {
    return this.reader?.health ?? { working: false };
  }

  async start(onHint: (message: ChangeMessage | undefined) => void): Promise<void> {
    const reader = this.queues.readerFor(this.subscription);
    const subscriber: Subscriber = {
      location: this.subscription.location,
      agent: this.subscription.agent,
      onHint,
      onError: this.subscription.onError,
      onReceive: this.subscription.onReceive,
    };
    try {
      await reader.verify();
      reader.add(subscriber);
    } catch (error) {
      await this.queues.release(this.subscription.queueUrl, reader, subscriber);
      throw error;
    }
    this.reader = reader;
    this.subscriber = subscriber;
  }

  async stop(): Promise<void> {
    if (this.reader && this.subscriber) await this.queues.release(this.subscription.queueUrl, this.reader, this.subscriber);
    this.reader = undefined;
  }
}
