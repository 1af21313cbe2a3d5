import { randomBytes } from "node:crypto";
import type { Git } from "../../localgit/index.ts";

/**
 * What the sync engine needs from the git layer: shared refs, fetched and pushed with compare-and-swap.
 * The bucket implementation wraps git over the bucket (bucket-remote.ts); `BareRepoRemote` is the same
 * contract over a bare repository on disk (native git), used by tests of the engine alone.
 */
export type MergeCallback = (ours: string, theirs: string) => Promise<string>;

export interface RefPush {
  ref: string;
  oid: string;
  /** Called when the shared ref moved meanwhile: returns a commit containing both. */
  merge: MergeCallback;
  /** A commit `oid` is known to contain (the shared ref as fetched, once merged or fast-forwarded into it). */
  contains?: string;
}

export interface SyncRemote {
  /**
   * Starts the first read a fetch makes (the bucket's refs) and returns that fetch, to be called later in
   * the round: the round's scan and commit go on meanwhile. What was read early stays inside the remote.
   */
  lookAhead?(): () => Promise<Map<string, string>>;
  /** Brings the shared refs' objects into the local repository; ref → commit (absent refs are missing). */
  fetch(): Promise<Map<string, string>>;
  /** Publishes each ref (merging when it moved meanwhile); ref → the commit it points at now. */
  push(updates: RefPush[]): Promise<Map<string, string>>;
  /** Upkeep after a round (the folder is written and pushed by then): packing what fetches brought. */
  afterRound?(): Promise<void>;
}

const tracking = (ref: string) => `refs/cloudbridge/remote/${ref.slice("refs/".length)}`;

export class BareRepoRemote implements SyncRemote {
  readonly url: string;
  private readonly git: Git;
  private readonly refs: string[];

  constructor(git: Git, url: string, refs: string[] = ["refs/heads/main"]) {
    this.git = git;
    this.url = url;
    this.refs = refs;
  }

  async fetch(): Promise<Map<string, string>> {
    const { stdout } = await this.git.run(["ls-remote", this.url, ...this.refs]);
    const present = new Map<string, string>();
    for (const line of stdout.toString().split("\n")) {
      const [oid, ref] = line.split("\t");
      if (oid && ref) present.set(ref, oid);
    }
    if (present.size > 0) {
      await this.git.run(["fetch", "--quiet", "--no-tags", this.url, ...[...present.keys()].map((ref) => `+${ref}:${tracking(ref)}`)]);
    }
    return present;
  }

  async push(updates: RefPush[]): Promise<Map<string, string>> {
    const landed = new Map<string, string>();
    for (const update of updates) landed.set(update.ref, await this.pushOne(update));
    return landed;
  }

  private async pushOne({ ref, oid, merge }: RefPush): Promise<string> {
    let candidate = oid;
    for (let attempt = 0; attempt < 20; attempt += 1) {
      const expected = (await this.fetch()).get(ref) ?? "";
      if (expected && expected !== candidate) {
        if (await this.git.isAncestor(candidate, expected)) return expected;
        if (!(await this.git.isAncestor(expected, candidate))) candidate = await merge(candidate, expected);
      }
      const { code } = await this.git.run(
        ["push", "--quiet", "--porcelain", `--force-with-lease=${ref}:${expected}`, this.url, `${candidate}:${ref}`],
        {
          okCodes: [1],
        },
      );
      if (code === 0) return candidate;
      await new Promise((r) => setTimeout(r, 20 + (randomBytes(1)[0]! % 50) * attempt));
    }
    throw new Error(`gave up pushing ${ref} to ${this.url}: it kept moving`);
  }
}
