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
 * The refs index (`info/refs` of a format 3 repository) as read by cloudbridge: the refs, and the refs
 * whose line names a ref but no object id (reported per ref, as a damaged ref file was). A line that names
 * no ref at all makes the whole list unusable: no writer of this format makes one.
 */
export function readRefsIndexBody(body: Buffer | string, key: string): { refs: Map<string, string>; corrupt: Map<string, GitStoreError> } {
  const refs = new Map<string, string>();
  const corrupt = new Map<string, GitStoreError>();
  for (const line of body.toString().split("\n")) {
    if (line === "") continue;
    const tab = line.indexOf("\t");
    const ref = line.slice(tab + 1);
    if (ref.endsWith("^{}")) continue;
    if (tab < 0 || !isRefName(ref)) {
      throw new GitStoreError(
        "corrupt-ref",
        `${key}, the repository's list of refs, has a line that is not "<object id><tab><ref>": ${JSON.stringify(line.slice(0, 80))}. ` +
          "It was damaged or written by something other than cloudbridge; nothing was changed locally. " +
          "Remove that line from the object (nothing else in it needs to change), or restore the object's previous version " +
          "(the stack's bucket keeps versions); every reader, a forced push too, refuses the list until then.",
      );
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
  return { refs, corrupt };
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
