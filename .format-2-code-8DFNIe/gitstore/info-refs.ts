import { GitStoreError } from "./errors.ts";
import { isRefName } from "./ref-file.ts";

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

/** The refs listed; git's peeled-tag lines (`<oid>\t<ref>^{}`) are not refs and are skipped. */
export function parseInfoRefs(body: Buffer | string, key = "info/refs"): Map<string, string> {
  const refs = new Map<string, string>();
  for (const line of body.toString().split("\n")) {
    if (line === "") continue;
    const match = /^([0-9a-f]{40})\t(refs\/\S+?)(\^\{\})?$/.exec(line);
    if (match?.[3]) continue;
    if (!match || !isRefName(match[2]!)) {
      throw new GitStoreError(
        "corrupt-ref",
        `${key} has a line that is not "<object id><tab><ref>": ${JSON.stringify(line.slice(0, 80))}. ` +
          "It is rewritten by the next push; delete it if it persists.",
      );
    }
    refs.set(match[2]!, match[1]!);
  }
  return refs;
}
