import { writeHeadFile } from "./ref-file.ts";
import { PreconditionFailed } from "../objectstore/index.ts";
import { writePackedRefs } from "./info-refs.ts";
import type { RepoContext } from "./repo-context.ts";

export const DEFAULT_BRANCH = "refs/heads/main";

/**
 * What a copy of the repository on disk needs beside the refs index (`info/refs`, which dumb HTTP reads):
 * `packed-refs` with the refs just written, and `HEAD`, created once, pointing at main. packed-refs is
 * written after the index and without a condition: two pushes racing may leave the older one's there
 * until the next push, which only a copy on disk would see (cloudbridge and dumb HTTP read the index).
 */
export async function publishServerInfo(ctx: RepoContext, refs: ReadonlyMap<string, string>, createHead: boolean): Promise<void> {
  await Promise.all([
    ctx.store.put(ctx.layout.packedRefs(ctx.repo), writePackedRefs(refs), { contentType: "text/plain; charset=utf-8" }),
    createHead
      ? ctx.store.put(ctx.layout.head(ctx.repo), writeHeadFile(DEFAULT_BRANCH), { ifNoneMatch: "*" }).catch((error: unknown) => {
          if (!(error instanceof PreconditionFailed)) throw error;
        })
      : undefined,
  ]);
}
