import { createInterface } from "node:readline";
import { BucketLayout, parseRemoteUrl } from "../../protocol/core.ts";
import { agentIdFor } from "../agent-id.ts";
import type { RepoContext } from "../repo-context.ts";
import { helperFailure, helperFetch, helperList, helperPush, openHelperRepository } from "./commands.ts";

/**
 * `git-remote-cloudbridge <remote> <url>`: git's remote-helper protocol (gitremote-helpers(7)) over the
 * bucket, so `git clone|fetch|push cloudbridge::s3://<bucket>[/<prefix>]/<repo>` work for any git user.
 * Capabilities: list, fetch, push, option. git decides fast-forwards from `list for-push`; the helper
 * re-checks at the compare-and-swap, so a push that raced another is rejected ("fetch first"), never lost.
 */
export async function runRemoteHelper(
  args: readonly string[],
  input: NodeJS.ReadableStream | AsyncIterator<string>,
  output: (text: string) => void,
  /** Where another part of the helper (./through-daemon.ts) leaves the conversation to this one: the options set, and the lines read but not answered. */
  taken: { verbosity: number; dryRun: boolean; unanswered: readonly string[] } = { verbosity: 1, dryRun: false, unanswered: [] },
): Promise<void> {
  const url = args[1] ?? args[0];
  if (!url) throw new Error("usage: git-remote-cloudbridge <remote> <url> (git runs this for cloudbridge:: URLs)");
  const gitDir = process.env.GIT_DIR;
  if (!gitDir) throw new Error("GIT_DIR is not set: git-remote-cloudbridge is run by git, not by hand.");
  const location = parseRemoteUrl(url);
  const layout = new BucketLayout(location.prefix);
  // The bucket is opened while git is told what this helper can do, not before: git's first questions
  // (capabilities, options) need no answer from it.
  const opened = openHelperRepository(location, layout, gitDir);
  opened.catch(() => {}); // its failure is thrown by the first command that needs the bucket
  let { verbosity, dryRun } = taken;
  const context = async (): Promise<RepoContext & { config: ReadonlyMap<string, readonly string[]> }> => ({
    ...(await opened),
    layout,
    repo: location.repo,
    gitDir,
    log: (line) => {
      if (verbosity > 1) process.stderr.write(`cloudbridge: ${line}\n`);
    },
  });
  const read = "next" in input ? input : createInterface({ input, crlfDelay: Infinity })[Symbol.asyncIterator]();
  const unanswered = [...taken.unanswered];
  const lines = {
    next: async (): Promise<IteratorResult<string>> => (unanswered.length > 0 ? { done: false, value: unanswered.shift()! } : read.next()),
  };
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
        const { output: text, stderr } = await helperList(ctx, line === "list");
        for (const warning of stderr) process.stderr.write(`${warning}\n`);
        output(text);
      } else if (line.startsWith("fetch ")) {
        output(await helperFetch(await context(), await batch(line)));
      } else if (line.startsWith("push ")) {
        const ctx = await context();
        output(await helperPush(ctx, await batch(line), dryRun, () => (agent ??= agentIdFor(gitDir, { config: ctx.config }))));
      } else throw new Error(`unknown remote-helper command ${JSON.stringify(line)}`);
    }
  } finally {
    (await opened.catch(() => undefined))?.s3.destroy();
  }
}

/**
 * The program git starts: the helper over stdin and stdout, and a failure said in one line on stderr.
 * `lines` and `taken`: the conversation so far, when ./through-daemon.ts leaves the rest of it to this helper.
 */
export async function main(lines?: AsyncIterator<string>, taken?: Parameters<typeof runRemoteHelper>[3]): Promise<void> {
  try {
    await runRemoteHelper(process.argv.slice(2), lines ?? process.stdin, (text) => process.stdout.write(text), taken);
  } catch (thrown) {
    // A setup problem (credentials, endpoint, bucket) in words that say which setting to change.
    process.stderr.write(`git-remote-cloudbridge: ${helperFailure(thrown)}\n`);
    if (process.env.CLOUDBRIDGE_DEBUG && thrown instanceof Error) process.stderr.write(`${thrown.stack}\n`);
    // Exit now: git is still holding our stdin open, waiting for an answer that will not come.
    process.exit(1);
  }
}

// Not awaited: in the bundle (scripts/build-helper.mjs) this module is not the main one, and its entry calls main().
if (import.meta.main) void main();
