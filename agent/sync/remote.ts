import { randomBytes } from "node:crypto";
import type { Git } from "./git.ts";

/**
 * What the sync engine needs from the git layer: the shared branch, fetched and pushed. The bucket
 * implementation is issue 3's git over S3; `BareRepoRemote` is the same contract over a bare repository
 * on disk (native git), for tests and for syncing through a shared folder.
 */
export type MergeCallback = (ours: string, theirs: string) => Promise<string>;

export interface SyncRemote {
  /** Brings the shared branch's objects into the local repository; its commit, or undefined when it has none yet. */
  fetch(): Promise<string | undefined>;
  /**
   * Makes `commit` the shared branch. When the branch moved meanwhile, `merge(commit, theirs)` makes the
   * commit to push instead (compare-and-swap, retried). Returns the commit the branch now points at.
   */
  push(commit: string, merge: MergeCallback): Promise<string>;
}

const TRACKING = "refs/cloudbridge/remote/main";

export class BareRepoRemote implements SyncRemote {
  readonly url: string;
  private readonly git: Git;

  constructor(git: Git, url: string) {
    this.git = git;
    this.url = url;
  }

  async fetch(): Promise<string | undefined> {
    const { code } = await this.git.run(["fetch", "--quiet", "--no-tags", this.url, `+refs/heads/main:${TRACKING}`], { okCodes: [128] });
    if (code !== 0) {
      // An empty remote has no main yet; anything else (a missing repository) is a real error.
      const { stdout } = await this.git.run(["ls-remote", this.url, "refs/heads/main"]);
      if (stdout.length > 0) throw new Error(`could not fetch from ${this.url}`);
      return undefined;
    }
    return this.git.revParse(TRACKING);
  }

  async push(commit: string, merge: MergeCallback): Promise<string> {
    let candidate = commit;
    for (let attempt = 0; attempt < 20; attempt += 1) {
      const expected = (await this.fetch()) ?? "";
      if (expected && expected !== candidate) {
        if (await this.git.isAncestor(candidate, expected)) return expected;
        if (!(await this.git.isAncestor(expected, candidate))) candidate = await merge(candidate, expected);
      }
      const { code } = await this.git.run(
        ["push", "--quiet", "--porcelain", `--force-with-lease=refs/heads/main:${expected}`, this.url, `${candidate}:refs/heads/main`],
        { okCodes: [1] },
      );
      if (code === 0) return candidate;
      await new Promise((r) => setTimeout(r, 20 + (randomBytes(1)[0]! % 50) * attempt));
    }
    throw new Error(`gave up pushing to ${this.url}: the branch kept moving`);
  }
}
