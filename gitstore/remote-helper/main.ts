import { close, readFile } from "node:fs";
import { BucketLayout, parseRemoteUrl } from "../../protocol/core.ts";
import { commonGitDir, configFromList, readConfig } from "../../localgit/index.ts";
import { agentIdFor } from "../agent-id.ts";
import { GitStoreError } from "../errors.ts";
import { beginPackAhead } from "../push.ts";
import type { IndexReadAhead } from "../refs-index.ts";
import { helperFailure, openHelperRepository } from "./commands.ts";
import { converse } from "./conversation.ts";

/**
 * `git-remote-cloudbridge <remote> <url>`: git's remote-helper protocol (./conversation.ts) over the
 * bucket, so `git clone|fetch|push cloudbridge::s3://<bucket>[/<prefix>]/<repo>` work for any git user.
 * This is the helper working alone; where the repository's daemon runs, the launcher starts
 * ./through-daemon.pl instead, which hands the conversation to the daemon and this helper only when the
 * daemon declines it.
 */
export async function runRemoteHelper(
  args: readonly string[],
  input: NodeJS.ReadableStream,
  output: (text: string) => void,
): Promise<void> {
  const url = args[1] ?? args[0];
  if (!url) throw new Error("usage: git-remote-cloudbridge <remote> <url> (git runs this for cloudbridge:: URLs)");
  const startedIn = process.env.GIT_DIR;
  if (!startedIn) throw new Error("GIT_DIR is not set: git-remote-cloudbridge is run by git, not by hand.");
  // In a linked worktree git names the worktree's own directory: the objects, config and this helper's state
  // are the repository's, and only the push's sources are the worktree's (RepoContext's worktreeGitDir).
  const gitDir = commonGitDir(startedIn);
  const worktree = gitDir === startedIn ? {} : { worktreeGitDir: startedIn };
  const location = parseRemoteUrl(url);
  const layout = new BucketLayout(location.prefix);
  // The bucket is opened while git is told what this helper can do, not before: git's first questions
  // (capabilities, options) need no answer from it.
  const opened = openHelperRepository(location, layout, gitDir, configFromLauncher(startedIn));
  opened.catch(() => {}); // its failure is thrown by the first command that needs the bucket
  // This repository's agent id, read (or made) once `list for-push` says a push follows.
  let agent: Promise<string> | undefined;
  // A push's local work git's answer did not wait for (its notes, its scratch folder): over before this process ends.
  const after: Promise<void>[] = [];
  // The refs index's GET begun as the bucket is opened, for the first `list` only.
  let indexAhead: Promise<IndexReadAhead> | undefined = opened.then((repository) => repository.indexAhead);
  indexAhead.catch(() => {}); // as `opened`'s failure: thrown by the command that needs the bucket
  try {
    await converse({
      lines: linesOf(input),
      output,
      say: (line) => process.stderr.write(`${line}\n`),
      repository: async () => ({ store: (await opened).store, layout, repo: location.repo, gitDir, ...worktree }),
      indexAhead: () => {
        const taken = indexAhead;
        indexAhead = undefined;
        return taken;
      },
      localAfter: (pending) => after.push(pending),
      beginPack: () => beginPackAhead({ gitDir }),
      agent: async () => (agent ??= opened.then(({ config }) => agentIdFor(gitDir, { config }))),
      run: (_work, _commands, run) => run(),
    });
  } finally {
    // The agent id asked at `list for-push` may be being recorded (`git config`) though no push followed:
    // that is over before the helper ends (main exits at once when this returns).
    await agent?.catch(() => undefined);
    // The bucket's refs index has the push already, and git its answer: what failed here is this machine's
    // note of it (the next push reads the index again), or the bucket's files for copies on disk.
    for (const failed of await Promise.allSettled(after))
      if (failed.status === "rejected")
        process.stderr.write(
          `git-remote-cloudbridge: warning: the push landed; ${
            failed.reason instanceof GitStoreError && failed.reason.code === "server-info-failed"
              ? ""
              : "noting it on this machine failed: "
          }${helperFailure(failed.reason)}\n`,
        );
    (await opened.catch(() => undefined))?.s3.destroy();
  }
}

/**
 * The repository's config as the launcher had git read it while Node started (bin/git-remote-cloudbridge:
 * `git config --null --list`'s output then `\0exit <code>` on the file descriptor CLOUDBRIDGE_HELPER_CONFIG_FD
 * names), else read here (run another way, or a descriptor that does not hold that).
 */
function configFromLauncher(gitDir: string): Promise<Map<string, string[]>> {
  const fd = Number(process.env.CLOUDBRIDGE_HELPER_CONFIG_FD);
  // Not for the git processes this one starts; the descriptor is closed once read.
  delete process.env.CLOUDBRIDGE_HELPER_CONFIG_FD;
  if (!Number.isSafeInteger(fd) || fd < 3) return readConfig(gitDir);
  return new Promise<string>((resolve) =>
    readFile(fd, (error, read) => {
      close(fd, () => {});
      resolve(error ? "" : read.toString());
    }),
  ).then((text) => {
    const trailer = /\0exit (\d+)$/.exec(text);
    return trailer ? configFromList(text.slice(0, trailer.index), Number(trailer[1])) : readConfig(gitDir);
  });
}

/** The program git starts: the helper over stdin and stdout, and a failure said in one line on stderr. */
export async function main(): Promise<void> {
  try {
    await runRemoteHelper(process.argv.slice(2), process.stdin, (text) => process.stdout.write(text));
    // git waits for this process to end before it returns to the person, and everything the conversation
    // started has been awaited by now (its sockets closed): exit at once rather than through Node's
    // teardown of the heap and handles, a few ms of every push and fetch (docs/performance.md). What is
    // still queued for stdout or stderr is written first.
    await drained(process.stdout);
    await drained(process.stderr);
    process.exit(process.exitCode ?? 0);
  } catch (thrown) {
    // A setup problem (credentials, endpoint, bucket) in words that say which setting to change.
    process.stderr.write(`git-remote-cloudbridge: ${helperFailure(thrown)}\n`);
    if (process.env.CLOUDBRIDGE_DEBUG && thrown instanceof Error) process.stderr.write(`${thrown.stack}\n`);
    // Exit now: git is still holding our stdin open, waiting for an answer that will not come.
    process.exit(1);
  }
}

/**
 * git's lines on `input`, without their line ends, as readline's interface gives them, without loading it
 * (~1 ms of every helper's start). A last line with no newline is a line too.
 */
async function* linesOf(input: NodeJS.ReadableStream): AsyncGenerator<string> {
  let pending = Buffer.alloc(0);
  for await (const chunk of input) {
    pending = Buffer.concat([pending, typeof chunk === "string" ? Buffer.from(chunk) : chunk]);
    for (let end = pending.indexOf(10); end >= 0; end = pending.indexOf(10)) {
      const line = pending.subarray(0, end > 0 && pending[end - 1] === 13 ? end - 1 : end);
      pending = pending.subarray(end + 1);
      yield line.toString();
    }
  }
  if (pending.length > 0) yield pending.toString();
}

/**
 * Resolves once `stream` has written everything queued on it. On Linux Node leaves a pipe to git non-blocking
 * (it makes stdout and stderr blocking only on Windows): libuv writes at once what the pipe's buffer (64 KiB)
 * has room for, and a write it could not finish (git not reading yet, a long answer) stays queued until the
 * pipe takes it, which `process.exit` would drop. Mostly nothing is queued and this resolves at once.
 */
function drained(stream: NodeJS.WriteStream): Promise<void> {
  return stream.writableLength === 0 ? Promise.resolve() : new Promise((resolve) => stream.once("drain", resolve).once("error", resolve));
}

// Not awaited: in the bundle (scripts/build-helper.mjs) this module is not the main one, and its entry calls main().
if (import.meta.main) void main();
