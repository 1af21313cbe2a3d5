import type { AnnexBranch } from "../logs/annex-branch.ts";
import { parseVectorClock } from "../logs/vector-clock.ts";

/**
 * How many copies of each key must exist: `numcopies.log` in the git-annex branch (`<clock> <n>`, set by
 * `git annex numcopies N`), newest line wins; default 1, as in git-annex.
 */
export function parseNumCopiesLog(text: string): number | undefined {
  let best: { clock: bigint; value: number } | undefined;
  for (const line of text.split("\n")) {
    const [clockText, valueText] = line.trim().split(" ");
    const clock = clockText ? parseVectorClock(clockText) : undefined;
    const value = Number(valueText);
    if (clock === undefined || !Number.isInteger(value) || value < 1) continue;
    if (!best || clock >= best.clock) best = { clock, value };
  }
  return best?.value;
}

export async function readNumCopies(branch: AnnexBranch): Promise<number> {
  return parseNumCopiesLog((await branch.read("numcopies.log")) ?? "") ?? 1;
}
