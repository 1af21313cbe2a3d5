import { randomUUID } from "node:crypto";
import { assertAgentId } from "../protocol/index.ts";
import { getConfig, setConfig } from "../localgit/index.ts";

/** Where a synced folder keeps its agent id: it is a git-annex repository, and the id is its annex UUID. */
export const AGENT_ID_KEY = "annex.uuid";
/** Where a plain git repository that only uses the remote helper keeps its agent id. */
export const HELPER_AGENT_ID_KEY = "cloudbridge.agent";

/**
 * The one agent-id policy: `annex.uuid` when set; otherwise `cloudbridge.agent`, or a new id. A synced
 * folder (`folder: true`) records it as `annex.uuid`, so a repository that used the remote helper keeps
 * its id when it becomes a folder; a plain repository records only `cloudbridge.agent`, because to
 * git-annex `annex.uuid` means "this repository was initialised", which only `git annex init` should say.
 */
export async function agentIdFor(gitDir: string, options: { folder?: boolean } = {}): Promise<string> {
  const annexUuid = await getConfig(gitDir, AGENT_ID_KEY);
  if (annexUuid) return assertAgentId(annexUuid);
  const helperId = await getConfig(gitDir, HELPER_AGENT_ID_KEY);
  const id = assertAgentId(helperId || randomUUID());
  if (options.folder) await setConfig(gitDir, AGENT_ID_KEY, id);
  else if (!helperId) await setConfig(gitDir, HELPER_AGENT_ID_KEY, id);
  return id;
}
