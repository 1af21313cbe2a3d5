import { randomUUID } from "node:crypto";
import { assertAgentId } from "../../protocol/names.ts";
import { gitText, runGit } from "../../gitstore/run-git.ts";

/**
 * This repository's agent id: its git-annex UUID (`annex.uuid`) when git-annex is set up, as the agent
 * uses; otherwise `cloudbridge.agent`, created on first use. We never write annex.uuid ourselves: to
 * git-annex that key means "this repository was initialised", which only `git annex init` should say.
 */
export async function agentIdFor(gitDir: string): Promise<string> {
  for (const key of ["annex.uuid", "cloudbridge.agent"]) {
    const run = await runGit(["config", "--get", key], { gitDir, allowFailure: true });
    const value = run.stdout.toString().trim();
    if (run.code === 0 && value) return assertAgentId(value);
  }
  const id = randomUUID();
  await gitText(["config", "cloudbridge.agent", id], { gitDir });
  return id;
}
