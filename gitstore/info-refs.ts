/**
 * `info/refs`, the dumb-HTTP ref list (what `git update-server-info` writes): `<oid>\t<ref>` per line,
 * sorted by ref name.
 */
export function writeInfoRefs(refs: ReadonlyMap<string, string>): string {
  return [...refs.keys()]
    .sort()
    .map((ref) => `${refs.get(ref)}\t${ref}\n`)
    .join("");
}

export function parseInfoRefs(body: Buffer | string): Map<string, string> {
  const refs = new Map<string, string>();
  for (const line of body.toString().split("\n")) {
    const match = /^([0-9a-f]{40})\t(refs\/\S+)$/.exec(line);
    if (match) refs.set(match[2]!, match[1]!);
  }
  return refs;
}
