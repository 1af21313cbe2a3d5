import { assertRefName } from "../protocol/index.ts";
import { GitStoreError } from "./errors.ts";

/**
 * A ref as git stores it in a file (and as it sits in the bucket): the object id and a newline.
 * Symbolic refs ("ref: …") are only used for HEAD, which has its own format below.
 */
const OID = /^[0-9a-f]{40}$/;

export function isObjectId(value: string): boolean {
  return OID.test(value);
}

export function parseRefFile(body: Buffer | string, key: string): string {
  const text = body.toString();
  const oid = text.endsWith("\n") ? text.slice(0, -1) : text;
  if (!OID.test(oid)) {
    throw new GitStoreError(
      "corrupt-ref",
      `The ref ${key} in the bucket does not hold an object id (it holds ${JSON.stringify(text.slice(0, 60))}). ` +
        "It was damaged or written by something other than git: replace it with a forced push from a machine that has the right commit, or delete it.",
    );
  }
  return oid;
}

export function writeRefFile(oid: string): string {
  if (!OID.test(oid)) throw new Error(`not an object id: ${JSON.stringify(oid)}`);
  return `${oid}\n`;
}

/** HEAD of a bare repository: a symbolic ref to the default branch. */
export function writeHeadFile(ref: string): string {
  return `ref: ${ref}\n`;
}

/** The ref HEAD names, or undefined when it names none that git would accept (the caller then has no default). */
export function parseHeadFile(body: Buffer | string): string | undefined {
  const match = /^ref: (refs\/\S+)\n?$/.exec(body.toString());
  return match && isRefName(match[1]!) ? match[1] : undefined;
}

/** Whether git would accept `ref` as a full ref name (protocol/names.ts's rules), without throwing. */
export function isRefName(ref: string): boolean {
  try {
    return assertRefName(ref) === ref;
  } catch {
    return false;
  }
}
