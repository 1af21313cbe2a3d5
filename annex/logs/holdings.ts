import { runGit } from "../../localgit/index.ts";
import { parseAnnexKey } from "../../protocol/index.ts";
import type { AnnexBranch } from "./annex-branch.ts";
import { parseLocationLog, presentUuids } from "./location-log.ts";
import { parseUuidLog } from "./uuid-log.ts";

/**
 * What each repository (each machine, the cloud) holds of the annexed content, by the git-annex branch's
 * location logs: how many keys and how many bytes. Reads the whole branch in one `cat-file --batch`, so it
 * is for a person asking (the page's machines view), not for every round.
 */
export interface Holding {
  uuid: string;
  description: string;
  keys: number;
  bytes: number;
}

export async function contentHoldings(branch: AnnexBranch): Promise<Holding[]> {
  const head = await branch.head();
  if (!head) return [];
  const listing = (await runGit(["ls-tree", "-r", "-z", "--name-only", head], { gitDir: branch.gitDir })).stdout
    .toString("utf8")
    .split("\0");
  const logs = listing.filter((path) => /^[0-9a-z]{3}\/[0-9a-z]{3}\/[^/]+\.log$/.test(path));
  const [uuidLog] = await branch.readMany(["uuid.log"], head);
  const descriptions = parseUuidLog(uuidLog ?? "");
  const holdings = new Map<string, Holding>();
  const contents = await branch.readMany(logs, head);
  logs.forEach((path, i) => {
    const key = path.slice(8, -4);
    const size = keySize(key);
    if (size === undefined) return; // a log for a name that is not a key: not content
    for (const uuid of presentUuids(parseLocationLog(contents[i] ?? ""))) {
      const holding = holdings.get(uuid) ?? { uuid, description: descriptions.get(uuid)?.description ?? "", keys: 0, bytes: 0 };
      holding.keys += 1;
      holding.bytes += size;
      holdings.set(uuid, holding);
    }
  });
  return [...holdings.values()];
}

function keySize(key: string): number | undefined {
  try {
    return parseAnnexKey(key).size ?? 0;
  } catch {
    return undefined;
  }
}
