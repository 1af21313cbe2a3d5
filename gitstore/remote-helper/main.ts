import { createInterface } from "node:readline";
import { createS3Client, LightS3Client, ObjectTooLarge, plainS3Settings, repositoryStore, S3ObjectStore } from "../../objectstore/index.ts";
import { BucketLayout, parseRemoteUrl, type RemoteLocation } from "../../protocol/core.ts";
import { parseHeadFile } from "../ref-file.ts";
import { agentIdFor } from "../agent-id.ts";
import { corruptSharedRef } from "../bucket-refs.ts";
import { readRefsIndex } from "../refs-index.ts";
import { fetchObjects } from "../fetch.ts";
import { recordedEncryption } from "../recorded-encryption.ts";
import { push, type RefUpdate } from "../push.ts";
import { engineOf, type RepoContext } from "../repo-context.ts";
import { readConfig } from "../../localgit/index.ts";
import { MAX_REF_FILE_BYTES } from "../limits.ts";

/**
 * `git-remote-cloudbridge <remote> <url>`: git's remote-helper protocol (gitremote-helpers(7)) over the
 * bucket, so `git clone|fetch|push cloudbridge::s3://<bucket>[/<prefix>]/<repo>` work for any git user.
 * Capabilities: list, fetch, push, option. git decides fast-forwards from `list for-push`; the helper
 * re-checks at the compare-and-swap, so a push that raced another is rejected ("fetch first"), never lost.
 */
export async function runRemoteHelper(
  args: readonly string[],
  input: NodeJS.ReadableStream,
  output: (text: string) => void,
): Promise<void> {
  const url = args[1] ?? args[0];
  if (!url) throw new Error("usage: git-remote-cloudbridge <remote> <url> (git runs this for cloudbridge:: URLs)");
  const gitDir = process.env.GIT_DIR;
  if (!gitDir) throw new Error("GIT_DIR is not set: git-remote-cloudbridge is run by git, not by hand.");
  const location = parseRemoteUrl(url);
  const layout = new BucketLayout(location.prefix);
  // The bucket is opened while git is told what this helper can do, not before: git's first questions
  // (capabilities, options) need no answer from it.
  const opened = openRepository(location, layout, gitDir);
  opened.catch(() => {}); // its failure is thrown by the first command that needs the bucket
  let verbosity = 1;
  let dryRun = false;
  const context = async (): Promise<RepoContext & { config: ReadonlyMap<string, readonly string[]> }> => ({
    ...(await opened),
    layout,
    repo: location.repo,
    gitDir,
    log: (line) => {
      if (verbosity > 1) process.stderr.write(`cloudbridge: ${line}\n`);
    },
  });
  const lines = createInterface({ input, crlfDelay: Infinity })[Symbol.asyncIterator]();
  const batch = async (first: string): Promise<string[]> => {
    const commands = [first];
    for (let next = await lines.next(); !next.done && next.value !== ""; next = await lines.next()) commands.push(next.value);
    return commands;
  };
  // This repository's agent id, read (or made) once `list for-push` says a push follows.
  let agent: Promise<string> | undefined;
  try {
    for (let next = await lines.next(); !next.done; next = await lines.next()) {
      const line = next.value;
      if (line === "") break;
      if (line === "capabilities") output("fetch\npush\noption\n\n");
      else if (line.startsWith("option ")) {
        const [, name, value] = line.split(" ");
        if (name === "verbosity") verbosity = Number(value);
        if (name === "dry-run") dryRun = value === "true";
        output(name === "verbosity" || name === "progress" || name === "dry-run" ? "ok\n" : "unsupported\n");
      } else if (line === "list" || line === "list for-push") {
        const ctx = await context();
        if (line === "list for-push" && !dryRun) (agent ??= agentIdFor(gitDir, { config: ctx.config })).catch(() => {}); // awaited in pushBatch
        output(await list(ctx, line === "list"));
      } else if (line.startsWith("fetch ")) {
        const oids = (await batch(line)).map((command) => command.split(" ")[1]!);
        await fetchObjects(await context(), oids);
        output("\n");
      } else if (line.startsWith("push ")) {
        const ctx = await context();
        output(await pushBatch(ctx, await batch(line), dryRun, () => (agent ??= agentIdFor(gitDir, { config: ctx.config }))));
      } else throw new Error(`unknown remote-helper command ${JSON.stringify(line)}`);
    }
  } finally {
    (await opened.catch(() => undefined))?.s3.destroy();
  }
}

/**
 * The repository's store: the light S3 client when this process's AWS settings are plain (keys from the
 * environment or a profile; the SDK's S3 client costs a push three times what the push itself takes),
 * anything else the SDK's; encrypted or not as the repository recorded, or as the bucket says. One `git
 * config --list` for the settings the helper reads (encryption recorded, agent id), beside the AWS settings.
 */
async function openRepository(location: RemoteLocation, layout: BucketLayout, gitDir: string) {
  const [settings, config] = await Promise.all([
    process.env.CLOUDBRIDGE_S3_CLIENT === "sdk" ? undefined : plainS3Settings(location.bucket),
    readConfig(gitDir),
  ]);
  const s3 = new S3ObjectStore(location.bucket, settings ? new LightS3Client(settings) : createS3Client());
  try {
    // An encrypted repository is read through this machine's key (CLOUDBRIDGE_IDENTITY or the default identity
    // file). A synced folder recorded whether it is; a plain `git clone cloudbridge::…` has no record, and the
    // bucket decides (its key ring).
    const store = await repositoryStore(s3, layout, location.repo, { recorded: await recordedEncryption(gitDir, config) });
    return { s3, store, config };
  } catch (error) {
    s3.destroy();
    throw error;
  }
}

async function list(ctx: RepoContext, forFetch: boolean): Promise<string> {
  const { refs } = await readRefsIndex(ctx);
  const corrupt = corruptSharedRef(refs);
  // A fetch stops at a damaged ref; a push goes on without it, so that `git push --force` can replace it.
  if (corrupt && forFetch) throw corrupt;
  if (corrupt) process.stderr.write(`warning: ${corrupt.message}\n`);
  const lines = [...refs.shared.values()].map(({ oid, ref }) => `${oid} ${ref}\n`);
  if (forFetch) {
    // A HEAD too large to be one is no HEAD: git then picks the branch itself.
    const head = await ctx.store.get(ctx.layout.head(ctx.repo), { maxBytes: MAX_REF_FILE_BYTES }).catch((error: unknown) => {
      if (error instanceof ObjectTooLarge) return undefined;
      throw error;
    });
    const target = head && head !== "not-modified" ? parseHeadFile(head.body) : undefined;
    if (target && refs.shared.has(target)) lines.push(`@${target} HEAD\n`);
  }
  return `${lines.join("")}\n`;
}

async function pushBatch(ctx: RepoContext, commands: string[], dryRun: boolean, agent: () => Promise<string>): Promise<string> {
  const updates: RefUpdate[] = await Promise.all(
    commands.map(async (command) => {
      const spec = command.slice("push ".length);
      const force = spec.startsWith("+");
      const [src, dst] = (force ? spec.slice(1) : spec).split(":") as [string, string];
      const oid = src === "" ? null : await engineOf(ctx).resolveRef(ctx.gitDir, src);
      if (oid === undefined) throw new Error(`${src} names no object in this repository; nothing was pushed.`);
      return { ref: dst, oid, onConflict: force ? ("force" as const) : ("reject" as const) };
    }),
  );
  // git has already refused what `list for-push` shows is not a fast-forward; a dry run writes nothing.
  if (dryRun) return `${updates.map((u) => `ok ${u.ref}\n`).join("")}\n`;
  try {
    const { results } = await push({ ...ctx, agent: await agent(), updates });
    return `${results.map((r) => (r.status === "rejected" ? `error ${r.ref} ${r.reason}\n` : `ok ${r.ref}\n`)).join("")}\n`;
  } catch (error) {
    const message = (error instanceof Error ? error.message : String(error)).replaceAll("\n", " ");
    return `${updates.map((u) => `error ${u.ref} ${message}\n`).join("")}\n`;
  }
}

/** The program git starts: the helper over stdin and stdout, and a failure said in one line on stderr. */
export async function main(): Promise<void> {
  try {
    await runRemoteHelper(process.argv.slice(2), process.stdin, (text) => process.stdout.write(text));
  } catch (error) {
    process.stderr.write(`git-remote-cloudbridge: ${error instanceof Error ? error.message : String(error)}\n`);
    if (process.env.CLOUDBRIDGE_DEBUG && error instanceof Error) process.stderr.write(`${error.stack}\n`);
    // Exit now: git is still holding our stdin open, waiting for an answer that will not come.
    process.exit(1);
  }
}

// Not awaited: in the bundle (scripts/build-helper.mjs) this module is not the main one, and its entry calls main().
if (import.meta.main) void main();
