import { bucketStore, explainAccessError, ObjectTooLarge, repositoryStore } from "../../objectstore/index.ts";
import type { BucketLayout, RemoteLocation } from "../../protocol/core.ts";
import { readConfig } from "../../localgit/index.ts";
import { bucketAccessFrom, settingsAreFor } from "../bucket-access.ts";
import { recordedEncryption } from "../recorded-encryption.ts";
import { corruptSharedRef } from "../bucket-refs.ts";
import { fetchObjects } from "../fetch.ts";
import { MAX_REF_FILE_BYTES } from "../limits.ts";
import { push, type PackAhead, type RefUpdate } from "../push.ts";
import { parseHeadFile } from "../ref-file.ts";
import { readRefsIndex, readRefsIndexAhead, type IndexReadAhead } from "../refs-index.ts";
import { engineOf, type RepoContext } from "../repo-context.ts";

/**
 * The remote helper's answers to git's `list`, `push` and `fetch` commands (gitremote-helpers(7)), worked
 * out the same way whoever works them out: the helper git started (./main.ts), or the daemon serving the
 * repository, to which the helper relays its conversation when one runs (./through-daemon.pl). Each
 * returns the text for git's stdout and what goes to the helper's stderr; nothing here writes to either.
 */

/**
 * The repository's store: the light S3 client when this process's AWS settings are plain (keys from the
 * environment or a profile; the SDK's S3 client costs a push three times what the push itself takes),
 * anything else the SDK's; the repository's own endpoint, region and profile (cloudbridge.*) applied as its
 * agent applies them (objectstore's bucketStore); encrypted or not as the repository recorded, or as the
 * bucket says. One `git config --list` for the settings the helper reads (those, encryption recorded, agent id).
 * A synced folder's settings are its own repository's: another cloudbridge:: remote of the same git
 * repository gets the environment's (settingsAreFor).
 * The daemon that answers the helper (agent/remote-requests.ts) opens it the same way, once.
 * `indexAhead`: the refs index's GET begun beside the key ring's (readRefsIndexAhead), for the first `list`.
 * `configRead`: the repository's config as readConfig reads it, read already (the helper's launcher has git
 * read it while Node starts).
 */
export async function openHelperRepository(
  location: RemoteLocation,
  layout: BucketLayout,
  gitDir: string,
  configRead: Promise<Map<string, string[]>> = readConfig(gitDir),
) {
  const config = await configRead;
  const own = settingsAreFor(config, location);
  const s3 = await bucketStore(location.bucket, own ? bucketAccessFrom(config) : {});
  try {
    // git asks for the refs next (`list`): their GET goes out now, beside the key ring's, and is used if the
    // repository is clear (its store is then `s3` itself).
    const indexAhead = readRefsIndexAhead({ store: s3, layout, repo: location.repo, gitDir });
    indexAhead.catch(() => {}); // taken by the first `list`, or dropped
    // An encrypted repository is read through this machine's key (CLOUDBRIDGE_IDENTITY or the default identity
    // file). A synced folder recorded whether it is; a plain `git clone cloudbridge::…` has no record, and the
    // bucket decides (its key ring).
    const store = await repositoryStore(s3, layout, location.repo, {
      recorded: own ? await recordedEncryption(gitDir, config) : undefined,
    });
    return { s3, store, config, indexAhead };
  } catch (error) {
    s3.destroy();
    throw error;
  }
}

/**
 * `list` (for a fetch) or `list for-push`: the bucket's shared refs, and for a fetch its HEAD; `stderr`:
 * warnings for the person. `indexAhead`: the index's GET begun already (openHelperRepository).
 */
export async function helperList(
  ctx: RepoContext,
  forFetch: boolean,
  indexAhead?: Promise<IndexReadAhead>,
): Promise<{ output: string; stderr: string[] }> {
  // A fetch's HEAD is read beside the index (both only read).
  const head = forFetch ? readHead(ctx) : undefined;
  head?.catch(() => {}); // awaited below, unless the index's read failed first
  const { refs, etag } = await readRefsIndex(ctx, indexAhead);
  const corrupt = corruptSharedRef(refs);
  const stderr: string[] = [];
  // git says only "You appear to have cloned an empty repository": a mistyped name would go unseen until a
  // push made a repository of it.
  if (forFetch && etag === undefined && refs.shared.size === 0)
    stderr.push(
      `warning: there is no repository at ${ctx.layout.repoRoot(ctx.repo)} in the bucket ${ctx.store.bucket} yet; a push creates it.`,
    );
  // A fetch stops at a damaged ref; a push goes on without it, so that `git push --force` can replace it.
  if (corrupt && forFetch) throw corrupt;
  if (corrupt) stderr.push(`warning: ${corrupt.message}`);
  for (const line of refs.unreadable) stderr.push(`warning: ${line.message}`);
  const lines = [...refs.shared.values()].map(({ oid, ref }) => `${oid} ${ref}\n`);
  if (head) {
    const target = await head;
    if (target && refs.shared.has(target)) lines.push(`@${target} HEAD\n`);
  }
  return { output: `${lines.join("")}\n`, stderr };
}

/** The ref the bucket's HEAD names, if it names one. */
async function readHead(ctx: RepoContext): Promise<string | undefined> {
  // A HEAD too large to be one is no HEAD: git then picks the branch itself.
  const head = await ctx.store.get(ctx.layout.head(ctx.repo), { maxBytes: MAX_REF_FILE_BYTES }).catch((error: unknown) => {
    if (error instanceof ObjectTooLarge) return undefined;
    throw error;
  });
  return head && head !== "not-modified" ? parseHeadFile(head.body) : undefined;
}

/**
 * A batch of `push [+]<src>:<dst>` commands: each ref's `ok` or `error <reason>` (git's own reasons for a
 * refusal, so that git says "non-fast-forward" / "fetch first" as with any remote). `agent`: the pushing
 * repository's agent id, asked only when something is written. `localAfter`: takes the push's work left
 * once the refs index holds it, for git to have its answer first (push's `localAfter`). `packAhead`:
 * the pack begun at `list for-push` (push's `packAhead`).
 */
export async function helperPush(
  ctx: RepoContext,
  commands: readonly string[],
  dryRun: boolean,
  agent: () => Promise<string>,
  localAfter?: (pending: Promise<void>) => void,
  packAhead?: PackAhead,
): Promise<string> {
  const updates: RefUpdate[] = await Promise.all(
    commands.map(async (command) => {
      const spec = command.slice("push ".length);
      const force = spec.startsWith("+");
      const [src, dst] = (force ? spec.slice(1) : spec).split(":") as [string, string];
      const oid = src === "" ? null : await engineOf(ctx).resolveRef(ctx.worktreeGitDir ?? ctx.gitDir, src);
      if (oid === undefined) throw new Error(`${src} names no object in this repository; nothing was pushed.`);
      return { ref: dst, oid, onConflict: force ? ("force" as const) : ("reject" as const) };
    }),
  );
  // git has already refused what `list for-push` shows is not a fast-forward; a dry run writes nothing.
  if (dryRun) return `${updates.map((u) => `ok ${u.ref}\n`).join("")}\n`;
  try {
    const { results } = await push({
      ...ctx,
      agent: await agent(),
      updates,
      ...(localAfter ? { localAfter } : {}),
      ...(packAhead ? { packAhead } : {}),
    });
    return `${results.map((r) => (r.status === "rejected" ? `error ${r.ref} ${r.reason}\n` : `ok ${r.ref}\n`)).join("")}\n`;
  } catch (error) {
    const message = helperFailure(error).replaceAll("\n", " ");
    return `${updates.map((u) => `error ${u.ref} ${message}\n`).join("")}\n`;
  }
}

/** A batch of `fetch <oid> <name>` commands: every object reachable from them brought into the repository (checked). */
export async function helperFetch(ctx: RepoContext, commands: readonly string[]): Promise<string> {
  await fetchObjects(
    ctx,
    commands.map((command) => command.split(" ")[1]!),
  );
  return "\n";
}

/** A failure said in words that name the setting to change (credentials, endpoint, bucket) when it is one. */
export function helperFailure(thrown: unknown): string {
  const error = explainAccessError(thrown) ?? thrown;
  return error instanceof Error ? error.message : String(error);
}
