import { AnnexError } from "../errors.ts";

/**
 * Why a drop is safe, or not. Only copies that can be checked at the moment of the drop count (git-annex's
 * rule: numcopies counts verified copies, never what a log merely claims):
 *
 * - the cloud's copy: `annex/<repo>/<KEY>` read through the key's hash (streamed, memory stays flat) while
 *   this agent holds the key's lock. Its size is not enough: anyone who can write the bucket can put other
 *   bytes of the same size there, and a drop that trusted them would delete the last good copy. A record of
 *   an earlier check would not do either: it cannot see a replacement made since. The price is one download
 *   of the object per drop of a local copy;
 * - this repository's own copy, in `.git/annex/objects/` and hashing to the key, while the lock is held.
 *
 * Another agent's copy cannot be checked from here (agents do not reach each other), so it never counts.
 * That makes concurrent drops safe without any shared lock: the cloud copy can only be deleted by an
 * agent that holds its own copy under its lock, and that agent can only drop its own copy later by seeing
 * the cloud copy again, which is gone. So whatever runs at once, on any number of agents, the last copy stays.
 */
export function dropRefused(key: string, from: "here" | "cloud", verified: string[], numcopies: number): AnnexError {
  const what = from === "here" ? "this repository's copy" : "the cloud's copy";
  const seen = verified.length === 0 ? "no other copy could be verified" : `only ${verified.join(" and ")} could be verified`;
  const fix =
    from === "here"
      ? "Upload it first (`cloudbridge sync`, or `git annex copy --to cloud`), then drop."
      : "Get it here first (`cloudbridge get`), or keep the cloud copy.";
  return new AnnexError("drop-refused", key, `Refusing to drop ${what} of ${key}: ${seen}, and numcopies is ${numcopies}. ${fix}`);
}

/**
 * The cloud's copy is the only way content reaches a machine (agents never reach each other): it is not
 * dropped while a machine that wants the content lacks it, unless the person forces it.
 */
export function stillWanted(key: string, lacking: ReadonlyArray<{ uuid: string; description: string }>): AnnexError {
  const who = lacking
    .slice(0, 3)
    .map((w) => (w.description ? `${w.description} (${w.uuid})` : w.uuid))
    .join(", ");
  const more = lacking.length > 3 ? ` and ${lacking.length - 3} more` : "";
  return new AnnexError(
    "drop-refused",
    key,
    `Refusing to drop the cloud's copy of ${key}: ${who}${more} want${lacking.length === 1 ? "s" : ""} it and do${lacking.length === 1 ? "es" : ""} not have it, and the cloud is the only way it gets there. ` +
      "Wait until they have it, or use --force (they then wait until a machine that has it runs `cloudbridge copy --to cloud`, or its daemon uploads it again).",
  );
}
