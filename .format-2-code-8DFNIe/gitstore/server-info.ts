import { writeHeadFile } from "./ref-file.ts";
import { PreconditionFailed } from "../objectstore/index.ts";
import { updateObject } from "./conditional-update.ts";
import { writeInfoRefs } from "./info-refs.ts";
import { readBucketRefs } from "./bucket-refs.ts";
import type { RepoContext } from "./repo-context.ts";

export const DEFAULT_BRANCH = "refs/heads/main";

/**
 * Keeps the dumb-HTTP files current after refs moved: `info/refs` is rebuilt from the refs as they are
 * now, by compare-and-swap, so the last successful writer always wrote what it read after every ref
 * change before it; `HEAD` is created once, pointing at main.
 */
export async function publishServerInfo(
  ctx: RepoContext,
  createdRef: boolean,
  known?: ReadonlyMap<string, { oid: string; etag: string }>,
): Promise<void> {
  let existed = true;
  // Rebuilt from the refs, never read (only its ETag): anyone who can write could have made it huge.
  await updateObject(
    ctx.store,
    ctx.layout.infoRefs(ctx.repo),
    async (_current, exists) => {
      existed = exists;
      // Read after info/refs' ETag was read, so a successful write holds every ref change before it.
      const refs = await readBucketRefs(ctx.store, ctx.layout, ctx.repo, known);
      const all = new Map<string, string>();
      for (const entry of [...refs.shared.values(), ...refs.synced.values()]) all.set(entry.ref, entry.oid);
      return writeInfoRefs(all);
    },
    undefined,
    { replace: true },
  );
  if (createdRef || !existed) {
    try {
      await ctx.store.put(ctx.layout.head(ctx.repo), writeHeadFile(DEFAULT_BRANCH), { ifNoneMatch: "*" });
    } catch (error) {
      if (!(error instanceof PreconditionFailed)) throw error;
    }
  }
}
