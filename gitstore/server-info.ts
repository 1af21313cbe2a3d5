import { writeHeadFile } from "./ref-file.ts";
import { PreconditionFailed } from "../objectstore/index.ts";
import { parseSyncedRefName } from "../protocol/core.ts";
import { writePackedRefs } from "./info-refs.ts";
import type { RepoContext } from "./repo-context.ts";

export const DEFAULT_BRANCH = "refs/heads/main";

/**
 * What a copy of the repository on disk needs beside the refs index (`info/refs`, which dumb HTTP reads):
 * `packed-refs` with the shared refs just written (agents' synced refs stay in the index: a clone needs
 * the branches, and the file then stays the same size however many agents there are), rewritten only when
 * a shared ref moved; and `HEAD` (pointing at main) and the `refs/` folder, created once (git takes a
 * folder for a repository only if it has `refs/`). packed-refs is written after the index and without a
 * condition: two pushes racing may leave the older one's there until the next push, which only a copy on
 * disk would see (cloudbridge and dumb HTTP read the index).
 */
export async function publishServerInfo(
  ctx: RepoContext,
  refs: ReadonlyMap<string, string>,
  what: { createHead: boolean; sharedMoved: boolean },
): Promise<void> {
  const shared = new Map([...refs].filter(([ref]) => parseSyncedRefName(ref) === undefined));
  await Promise.all([
    what.sharedMoved
      ? ctx.store.put(ctx.layout.packedRefs(ctx.repo), writePackedRefs(shared), { contentType: "text/plain; charset=utf-8" })
      : undefined,
    what.createHead ? createOnce(ctx, ctx.layout.head(ctx.repo), writeHeadFile(DEFAULT_BRANCH)) : undefined,
    what.createHead ? createRefsFolder(ctx) : undefined,
  ]);
}

/** The empty `refs/` folder object a copy on disk needs (also after ref files were moved into the index). */
export function createRefsFolder(ctx: RepoContext): Promise<void> {
  return createOnce(ctx, ctx.layout.refsFolder(ctx.repo), "");
}

async function createOnce(ctx: RepoContext, key: string, body: string): Promise<void> {
  try {
    await ctx.store.put(key, body, { ifNoneMatch: "*" });
  } catch (error) {
    if (!(error instanceof PreconditionFailed)) throw error;
  }
}
