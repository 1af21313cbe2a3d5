/**
 * Which of the bucket's packs a push folds into the one it uploads, so that the packs listed in
 * objects/info/packs stay few (a line each, rewritten whole by every push; dumb HTTP reads every listed
 * pack's index) without any push rewriting the whole history each time.
 *
 * Packs are sorted into tiers by object count, each tier `fanIn` times the one below (1–7 objects, 8–63,
 * 64–511, … with fan-in 8), and a tier holds at most `fanIn - 1` packs: when the push would make it
 * `fanIn`, they are folded into the push's pack, which then counts in the tier its total reaches (and
 * may fill that one in turn). So the packs are at most `(fanIn - 1) × log_fanIn(objects)`, and an object
 * is uploaded again about once per tier (log_fanIn of the history after it) — git's `repack --geometric`
 * keeps one pack a tier (factor 2), which uploads each object again about three times as often. Fan-in 8
 * uploaded the fewest bytes per push over 800 one-file pushes (docs/performance.md).
 */
export interface SizedPack {
  name: string;
  /** Objects in the pack (its index's count). */
  objects: number;
  /** Bytes of the pack and its index. */
  bytes: number;
}

export const FOLD_FAN_IN = 8;

/**
 * At most this many bytes of packs are folded into one push, so that no one-file push uploads more than
 * about this much again: larger packs stay as they are (compaction merges them).
 */
export const MAX_FOLD_BYTES = 1024 * 1024;

/**
 * The names of `packs` to fold into a push of `pushed` objects. Empty when no tier is full (or folding the
 * full one would exceed `maxBytes`).
 */
export function packsToFold(packs: readonly SizedPack[], pushed: number, options: { fanIn?: number; maxBytes?: number } = {}): string[] {
  const fanIn = options.fanIn ?? FOLD_FAN_IN;
  const maxBytes = options.maxBytes ?? MAX_FOLD_BYTES;
  const tier = (objects: number) => {
    let level = 0;
    for (let n = objects; n >= fanIn; n = Math.floor(n / fanIn)) level++;
    return level;
  };
  let remaining = [...packs];
  let objects = Math.max(1, pushed);
  let bytes = 0;
  const folded: string[] = [];
  for (;;) {
    const level = tier(objects);
    const below = remaining.filter((pack) => tier(pack.objects) <= level);
    const more = below.reduce((sum, pack) => sum + pack.bytes, 0);
    if (below.length + 1 < fanIn || bytes + more > maxBytes) return folded;
    folded.push(...below.map((pack) => pack.name));
    objects += below.reduce((sum, pack) => sum + pack.objects, 0);
    bytes += more;
    remaining = remaining.filter((pack) => !below.includes(pack));
  }
}
