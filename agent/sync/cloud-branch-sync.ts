import { fetchRefs, push, trackingRefName, type RepoContext } from "../../gitstore/index.ts";
import { ANNEX_BRANCH, AnnexBranch } from "../../annex/index.ts";
import { readRefs, resolveRef } from "../../localgit/index.ts";

/**
 * The git-annex branch through the bucket (git over S3, gitstore/): publish pushes the local branch with
 * compare-and-swap, resolving a lost race with git-annex's union merge, then adopts what landed; receive
 * fetches the shared branch and every agent's synced copy of it and union-merges them into the local one.
 */
export interface AnnexBranchContext extends RepoContext {
  /** This repository's annex.uuid (the agent id). */
  agent: string;
  /** Local remote name for tracking refs (default "cloud"). */
  remote?: string;
}

export async function publishAnnexBranch(ctx: AnnexBranchContext): Promise<void> {
  const branch = new AnnexBranch(ctx.gitDir);
  const ours = await branch.head();
  if (!ours) return;
  const { results } = await push({
    ...ctx,
    remote: ctx.remote ?? "cloud",
    updates: [
      {
        ref: ANNEX_BRANCH,
        oid: ours,
        onConflict: async (mine, theirs) => (await branch.unionMerge(mine, theirs))!,
      },
    ],
  });
  const landed = results[0];
  if (landed?.status === "rejected") throw new Error(`The git-annex branch could not be pushed (${landed.reason ?? "rejected"}).`);
  // After a merge the bucket holds a commit that contains ours: adopt it so the next push fast-forwards.
  if (landed?.oid && landed.oid !== ours) await branch.mergeFrom(landed.oid);
}

export async function receiveAnnexBranch(ctx: AnnexBranchContext): Promise<void> {
  const remote = ctx.remote ?? "cloud";
  await fetchRefs({ ...ctx, remote });
  const branch = new AnnexBranch(ctx.gitDir);
  const shared = trackingRefName(remote, ANNEX_BRANCH);
  const synced = [...(await readRefs(ctx.gitDir, [`refs/remotes/${remote}-synced/`]))].filter(([ref]) => ref.endsWith("/git-annex"));
  const sharedOid = await resolveRef(ctx.gitDir, shared);
  for (const oid of [sharedOid, ...synced.map(([, oid]) => oid)]) if (oid) await branch.mergeFrom(oid);
}
