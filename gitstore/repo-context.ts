import type { ObjectStore } from "../objectstore/index.ts";
import type { BucketLayout } from "../protocol/index.ts";
import type { GitEngine } from "./engine.ts";
import { NativeGitEngine } from "./native-engine.ts";

/** A local repository and the repository in the bucket it syncs with. */
export interface RepoContext {
  store: ObjectStore;
  layout: BucketLayout;
  /** The repository's name in the bucket (`repos/<repo>.git/`). */
  repo: string;
  /** The local repository's git directory (`.git`, or the bare repository itself; for a linked worktree, the repository's common one). */
  gitDir: string;
  /**
   * A linked worktree's own git directory (`.git/worktrees/<name>`), where git started the helper: a push's
   * sources are resolved there (git sends `HEAD`, `HEAD~1` or `refs/worktree/…` as they are, and those are
   * the worktree's own). `gitDir` when absent.
   */
  worktreeGitDir?: string;
  /** Native git by default. */
  engine?: GitEngine;
  /** Progress lines for a person (stderr); silent by default. */
  log?: (line: string) => void;
}

const native = new NativeGitEngine();

export function engineOf(ctx: Pick<RepoContext, "engine">): GitEngine {
  return ctx.engine ?? native;
}
