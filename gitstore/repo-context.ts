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
  /** The local repository's git directory (`.git`, or the bare repository itself). */
  gitDir: string;
  /** Native git by default. */
  engine?: GitEngine;
  /** Progress lines for a person (stderr); silent by default. */
  log?: (line: string) => void;
}

const native = new NativeGitEngine();

export function engineOf(ctx: Pick<RepoContext, "engine">): GitEngine {
  return ctx.engine ?? native;
}
