import type { ChangeMessage, RemoteLocation } from "../../protocol/index.ts";

/**
 * How the daemon hears that the bucket changed. A notification is only a hint that a sync round is worth
 * running: duplicates, reordering and loss cost latency, never correctness (the periodic reconcile
 * guarantees convergence), so a listener never needs to be exactly-once or ordered.
 */
export interface ChangeListener {
  readonly kind: "xmpp" | "sqs" | "poll";
  /**
   * Starts listening; `onHint` is called for every relevant change (possibly more than once), and with
   * undefined when its connection came back after failing: what was announced meanwhile may be lost.
   */
  start(onHint: (message: ChangeMessage | undefined) => void): Promise<void>;
  stop(): Promise<void>;
  /** Requests made to AWS so far (the idle-cost figure of the benchmark). */
  readonly requests: number;
  /** What it listens on, for a person (`status`): "the stack's queue …", "xmpp://host as jid"… */
  readonly detail?: string;
  /** Whether its last attempt worked (`status` says so); undefined when it cannot tell. */
  readonly health?: ListenerHealth;
}

export interface ListenerHealth {
  working: boolean;
  error?: string;
}

/** A message about this repository, not about this agent's own synced refs. */
export function isRelevant(message: ChangeMessage, location: RemoteLocation, self: string): boolean {
  if (message.repo !== location.repo || (message.prefix ?? "") !== location.prefix) return false;
  if (message.bucket !== location.bucket) return false;
  return message.by !== self;
}
