import { randomUUID } from "node:crypto";
import { assertAgentId } from "../protocol/index.ts";
import { getConfig, setConfig } from "../localgit/index.ts";

/**
 * This repository's agent id: its git-annex UUID (`annex.uuid`) when git-annex is set up, as the agent
 * uses; otherwise `cloudbridge.agent`, created on first use. We never write annex.uuid ourselves: to
 * git-annex that key means "this repository was initialised", which only `git annex init` should say.
 */
export async function agentIdFor(gitDir: string): Promise<string> {
  for (const key of ["annex.uuid", "cloudbridge.agent"]) {
    const value = await getConfig(gitDir, key);
    if (value) return assertAgentId(value);
  }
  const id = randomUUID();
  await setConfig(gitDir, "cloudbridge.agent", id);
  return id;
}
