/**
 * git-annex's log timestamps: POSIX seconds with a fraction and a trailing "s" (`1795305907.626400261s`).
 * Kept as nanoseconds in a bigint so ordering is exact, and a new entry is always later than the entry it
 * replaces even when clocks disagree (git-annex does the same, so the newest line always wins).
 */
export type VectorClock = bigint;

export function parseVectorClock(text: string): VectorClock | undefined {
  const match = /^(\d+)(?:\.(\d{1,9})\d*)?s$/.exec(text);
  if (!match) return undefined;
  return BigInt(match[1]!) * 1_000_000_000n + BigInt((match[2] ?? "").padEnd(9, "0"));
}

export function formatVectorClock(clock: VectorClock): string {
  const seconds = clock / 1_000_000_000n;
  const nanos = clock % 1_000_000_000n;
  return `${seconds}.${nanos.toString().padStart(9, "0")}s`;
}

let last: VectorClock = 0n;

/** Now, strictly after every clock this process handed out and after `after` (the entry being replaced). */
export function nextVectorClock(after: VectorClock = 0n): VectorClock {
  let now = BigInt(Date.now()) * 1_000_000n + (process.hrtime.bigint() % 1_000_000n);
  if (now <= last) now = last + 1n;
  if (now <= after) now = after + 1n;
  last = now;
  return now;
}
