/**
 * git-annex's union merge of a log file (Git/UnionMerge.hs): the lines of both sides, each once, ours
 * first. Every git-annex branch file is a log whose readers keep the newest entry per subject, so a union
 * never conflicts and never loses an entry.
 */
export function unionMergeLines(ours: string, theirs: string): string {
  const seen = new Set<string>();
  const lines: string[] = [];
  for (const text of [ours, theirs]) {
    for (const line of text.split("\n")) {
      if (line.length === 0 || seen.has(line)) continue;
      seen.add(line);
      lines.push(line);
    }
  }
  return lines.length === 0 ? "" : `${lines.join("\n")}\n`;
}
