import { randomUUID } from "node:crypto";
import { assertAgentId } from "../protocol/core.ts";
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
export async function agentIdFor(
  gitDir: string,
  options: { folder?: boolean; config?: ReadonlyMap<string, readonly string[]> } = {},
): Promise<string> {
  // `config`: the repository's settings as readConfig read them (one git process for several settings).
  const get = async (name: string) => (options.config ? options.config.get(name)?.at(-1) : await getConfig(gitDir, name));
  const annexUuid = await get(AGENT_ID_KEY);
  if (annexUuid) return assertAgentId(annexUuid);
  const helperId = await get(HELPER_AGENT_ID_KEY);
  const id = assertAgentId(helperId || randomUUID());
  if (options.folder) await setConfig(gitDir, AGENT_ID_KEY, id);
  else if (!helperId) await setConfig(gitDir, HELPER_AGENT_ID_KEY, id);
  return id;
}
