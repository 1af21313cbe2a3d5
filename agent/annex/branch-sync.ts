import { ANNEX_BRANCH, AnnexBranch } from "./annex-branch.ts";
import { git, GitError, resolveRef } from "./git.ts";

/**
 * Exchanges the git-annex branch with an ordinary git remote (a path or URL native git can push to), the way
 * `git annex sync` does: fetch theirs, union-merge into ours, push; a push that lost a race (non-fast-forward)
 * fetches, merges and pushes again. The cloud transport (git over S3) does the same through its own CAS push
 * with `AnnexBranch.unionMerge` as the merge callback.
 */
export async function syncAnnexBranch(gitDir: string, remote: string, attempts = 10): Promise<void> {
  const branch = new AnnexBranch(gitDir);
  const tracking = "refs/cloudbridge/fetched/git-annex";
  for (let attempt = 1; ; attempt++) {
    await fetchAnnexBranch(gitDir, remote, tracking);
    const theirs = await resolveRef(gitDir, tracking);
    if (theirs) await branch.mergeFrom(theirs);
    const ours = await branch.head();
    if (!ours || ours === theirs) return;
    try {
      await git(gitDir, ["push", "--quiet", remote, `${ANNEX_BRANCH}:${ANNEX_BRANCH}`]);
      return;
    } catch (error) {
      if (!(error instanceof GitError) || attempt >= attempts) throw error;
    }
  }
}

async function fetchAnnexBranch(gitDir: string, remote: string, into: string): Promise<void> {
  try {
    await git(gitDir, ["fetch", "--quiet", "--no-tags", remote, `+${ANNEX_BRANCH}:${into}`]);
  } catch (error) {
    // A remote without a git-annex branch yet: nothing to merge.
    if (error instanceof GitError && /couldn't find remote ref/i.test(error.stderr)) {
      await git(gitDir, ["update-ref", "-d", into]).catch(() => {});
      return;
    }
    throw error;
  }
}
