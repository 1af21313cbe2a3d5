import type { ChangeMessage } from "../../protocol/index.ts";

/**
 * The longest an agent waits after a notification before it fetches. One change notifies every machine of
 * the repository at once (SNS delivers to all queues, XMPP to all clients); without a wait they would all
 * read `info/refs`, the refs and `objects/info/packs` in the same millisecond. A random wait of 0–50 ms
 * (25 ms on average: a small part of the 300 ms a change may take from one machine to another) spreads
 * 200 machines' reads over 50 ms, and hints that arrive during it are answered by the same fetch.
 */
export const HINT_SPREAD_MS = 50;

export interface SpreadHints {
  /** Call on each notification: the first schedules `onHint` after a random wait; others until it runs join it. */
  (message: ChangeMessage | undefined): void;
  /** Drops a scheduled call (the daemon is stopping). */
  cancel(): void;
}

/**
 * Wraps a listener's `onHint` so that it runs a random 0–`maxMs` after the first of a group of hints.
 * A hint that arrives while one is scheduled needs no call of its own: the scheduled one has not read the
 * bucket yet, so it sees that change too. A hint that arrives after it ran schedules another.
 */
export function spreadHints(
  onHint: (message: ChangeMessage | undefined) => void,
  options: { maxMs?: number; random?: () => number } = {},
): SpreadHints {
  const maxMs = options.maxMs ?? HINT_SPREAD_MS;
  const random = options.random ?? Math.random;
  let timer: NodeJS.Timeout | undefined;
  let latest: ChangeMessage | undefined;
  const hint = (message: ChangeMessage | undefined) => {
    latest = message ?? latest;
    if (timer) return;
    timer = setTimeout(
      () => {
        timer = undefined;
        const heard = latest;
        latest = undefined;
        onHint(heard);
      },
      Math.floor(random() * maxMs),
    );
  };
  return Object.assign(hint, {
    cancel: () => {
      clearTimeout(timer);
      timer = undefined;
    },
  });
}
