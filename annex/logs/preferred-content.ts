import type { AnnexBranch } from "./annex-branch.ts";
import { locationLogPath, parseLocationLog } from "./location-log.ts";
import { md5 } from "../content/local-store.ts";
import { formatUuidLog, parseUuidLog } from "./uuid-log.ts";
import { nextVectorClock } from "./vector-clock.ts";

/**
 * `preferred-content.log` in the git-annex branch (Logs/PreferredContent.hs): `<uuid> <expression>
 * timestamp=<clock>`, the newest line per uuid wins, the same format as uuid.log. Each agent records its
 * `cloudbridge.wanted` there as git-annex's own terms — `anything` (everything) or `nothing` — so every
 * machine, and `git annex wanted`, can read what the others want.
 *
 * The cloud's rule follows from them: it keeps what any machine wants and lacks, because agents never
 * reach each other and the cloud is the only way content gets to a machine. Such content must not be
 * dropped from the cloud (unless forced), and a machine that holds it uploads it again when the cloud lost it.
 */
export type WantedExpression = "anything" | "nothing";

export const PREFERRED_CONTENT_LOG = "preferred-content.log";

/**
 * Records this repository's preferred content, if the log does not say so already (no commit otherwise).
 * Returns the branch's commit whose log says so (the one made, or the head read), undefined with no branch.
 */
export async function recordWanted(branch: AnnexBranch, uuid: string, expression: WantedExpression): Promise<string | undefined> {
  return branch.change(
    "wanted",
    new Map([
      [
        PREFERRED_CONTENT_LOG,
        (old: string | undefined) => {
          const entries = parseUuidLog(old ?? "");
          const previous = entries.get(uuid);
          if (previous?.description === expression) return undefined;
          entries.set(uuid, { uuid, description: expression, clock: nextVectorClock(previous?.clock) });
          return formatUuidLog(entries.values());
        },
      ],
    ]),
  );
}

/** A repository that wants content it does not have, as `drop --from cloud` names it. */
export interface Wanter {
  uuid: string;
  description: string;
}

/**
 * For each key, the repositories (other than `except`, the cloud) whose preferred content is `anything`
 * and whose location log does not say they have it: the machines only the cloud can serve. A repository
 * with no recorded rule, or a rule other than git-annex's `anything`, is not counted (its wishes are not
 * known). One read of uuid.log and preferred-content.log, and one batched read of the location logs.
 */
export async function wantersLacking(branch: AnnexBranch, keys: readonly string[], except: string): Promise<Map<string, Wanter[]>> {
  const result = new Map<string, Wanter[]>();
  const head = await branch.head();
  if (!head || keys.length === 0) return result;
  const [uuidLog, preferred] = await branch.readMany(["uuid.log", PREFERRED_CONTENT_LOG], head);
  const descriptions = parseUuidLog(uuidLog ?? "");
  const wanting = [...parseUuidLog(preferred ?? "").values()].filter((e) => e.uuid !== except && e.description.trim() === "anything");
  if (wanting.length === 0) return result;
  const logs = await branch.readMany(
    keys.map((key) => locationLogPath(key, md5)),
    head,
  );
  keys.forEach((key, i) => {
    const locations = parseLocationLog(logs[i] ?? "");
    const lacking = wanting
      .filter((w) => locations.get(w.uuid)?.status !== "1" && locations.get(w.uuid)?.status !== "X")
      .map((w) => ({ uuid: w.uuid, description: descriptions.get(w.uuid)?.description ?? "" }));
    if (lacking.length > 0) result.set(key, lacking);
  });
  return result;
}
