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

/**
 * The refs index (`info/refs` of a format 3 repository) as read by cloudbridge: the refs; the refs whose line
 * names a ref but no object id (reported per ref, as a damaged ref file was); and the lines that name no ref
 * at all (`unreadable`). No writer of this format makes those, and anyone who can write to the bucket can:
 * they are reported and skipped, never used as a name (no path on this machine comes from them), and the
 * next write of the index, which is made from the refs, drops them. One such line stops no machine.
 */
export function readRefsIndexBody(
  body: Buffer | string,
  key: string,
): { refs: Map<string, string>; corrupt: Map<string, GitStoreError>; unreadable: GitStoreError[] } {
  const refs = new Map<string, string>();
  const corrupt = new Map<string, GitStoreError>();
  const unreadable: GitStoreError[] = [];
  for (const line of body.toString().split("\n")) {
    if (line === "") continue;
    const tab = line.indexOf("\t");
    const ref = line.slice(tab + 1);
    if (ref.endsWith("^{}")) continue;
    if (tab < 0 || !isRefName(ref)) {
      unreadable.push(unreadableLine(key, line));
      continue;
    }
    const oid = line.slice(0, tab);
    if (/^[0-9a-f]{40}$/.test(oid)) refs.set(ref, oid);
    else {
      corrupt.set(
        ref,
        new GitStoreError(
          "corrupt-ref",
          `The ref ${ref} in ${key} does not hold an object id (it holds ${JSON.stringify(oid.slice(0, 60))}). ` +
            "It was damaged or written by something other than git: replace it with a forced push from a machine that has the right commit.",
        ),
      );
    }
  }
  return { refs, corrupt, unreadable };
}

/** A line of the refs index that names no ref cloudbridge could have written: said, and skipped. */
export function unreadableLine(key: string, line: string, why = 'it is not "<object id><tab><ref>"'): GitStoreError {
  return new GitStoreError(
    "corrupt-ref",
    `${key}, the repository's list of refs, has a line that names no ref cloudbridge writes (${why}), skipped: ${JSON.stringify(line.slice(0, 80))}. ` +
      "It was damaged or written by something other than cloudbridge; nothing was changed locally, and the next push from any machine drops it.",
  );
}

/**
 * git's `packed-refs` for the same refs (so a copy of the repository on disk has them): `<oid> <ref>` per
 * line. No header: the "sorted" trait would promise git byte order, which a JavaScript sort does not give.
 */
export function writePackedRefs(refs: ReadonlyMap<string, string>): string {
  return [...refs.keys()]
    .sort()
    .map((ref) => `${refs.get(ref)} ${ref}\n`)
    .join("");
}
