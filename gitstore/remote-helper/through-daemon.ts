import { join } from "node:path";
import { createInterface } from "node:readline";
import { askDaemon, settingsDigest, type Asked } from "../../localgit/daemon-socket.ts";
import { asRemoteAnswer, isRefusal, SOCKET_VERSION, type DaemonRequest, type RemoteAnswer } from "../../protocol/daemon-request.ts";

/**
 * The remote helper where a daemon may serve the repository (bin/git-remote-cloudbridge starts this one
 * when `.git/cloudbridge/daemon.sock` exists): git's `list`, `push` and `fetch` are asked of the daemon, which has a
 * warm S3 client and caches and runs the push (or fetch) between its own rounds, and its answers are relayed to git
 * as they are (the daemon works them out with the helper's own code, gitstore/remote-helper/commands.ts).
 * Only Node's socket and the messages are loaded for that. Whenever the daemon cannot be asked (none
 * listens, the socket is not trusted, it is another repository's or has other settings, its answer is not
 * one) the rest of the conversation goes to the helper that works alone (./main.ts), loaded then.
 */
export async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const url = args[1] ?? args[0];
  const gitDir = process.env.GIT_DIR;
  const lines = createInterface({ input: process.stdin, crlfDelay: Infinity })[Symbol.asyncIterator]();
  const taken = { verbosity: 1, dryRun: false };
  const alone = async (unanswered: string[], why?: string) => {
    if (why) process.stderr.write(`cloudbridge: ${why}; working without the daemon.\n`);
    const helper = await import("./main.ts");
    return helper.main(lines, { ...taken, unanswered });
  };
  if (!url || !gitDir) return alone([]); // the helper that works alone says what is wrong
  const stateDir = join(gitDir, "cloudbridge");
  const settings = settingsDigest();
  /** The daemon's answer, or why the helper goes on alone (undefined: nothing worth saying). */
  const ask = async (request: DaemonRequest): Promise<RemoteAnswer | { alone: string | undefined }> => {
    const asked: Asked = await askDaemon(stateDir, request);
    if (asked.kind === "no-daemon") return { alone: undefined };
    if (asked.kind === "not-asked") return { alone: asked.reason };
    const { reply } = asked;
    if (reply.ok) {
      const answer = asRemoteAnswer(reply.value);
      return answer ?? { alone: "the daemon's answer was not one to give git" };
    }
    // Another repository's daemon, other settings, an older daemon: the helper does the work, as without one.
    if (isRefusal(reply))
      return { alone: reply.code === "bad-request" || taken.verbosity > 1 ? `the daemon declined: ${reply.message}` : undefined };
    // The work failed in the daemon, with this repository and these settings: said as the helper says a failure.
    process.stderr.write(`git-remote-cloudbridge: ${reply.message}\n`);
    process.exit(1);
  };
  const relay = (answer: RemoteAnswer) => {
    for (const line of answer.stderr) process.stderr.write(`${line}\n`);
    if (taken.verbosity > 1) for (const line of answer.progress) process.stderr.write(`cloudbridge: ${line}\n`);
    process.stdout.write(answer.output);
  };
  for (let next = await lines.next(); !next.done; next = await lines.next()) {
    const line = next.value;
    if (line === "") break;
    if (line === "capabilities") process.stdout.write("fetch\npush\noption\n\n");
    else if (line.startsWith("option ")) {
      const [, name, value] = line.split(" ");
      if (name === "verbosity") taken.verbosity = Number(value);
      if (name === "dry-run") taken.dryRun = value === "true";
      process.stdout.write(name === "verbosity" || name === "progress" || name === "dry-run" ? "ok\n" : "unsupported\n");
    } else if (line === "list" || line === "list for-push") {
      const answer = await ask({ version: SOCKET_VERSION, ask: "remote-list", url, settings, forPush: line === "list for-push" });
      if ("alone" in answer) return alone([line], answer.alone);
      relay(answer);
    } else if (line.startsWith("push ") || line.startsWith("fetch ")) {
      const commands = [line];
      for (let more = await lines.next(); !more.done && more.value !== ""; more = await lines.next()) commands.push(more.value);
      const answer = line.startsWith("push ")
        ? await ask({ version: SOCKET_VERSION, ask: "remote-push", url, settings, commands, dryRun: taken.dryRun })
        : await ask({ version: SOCKET_VERSION, ask: "remote-fetch", url, settings, commands });
      if ("alone" in answer) return alone([...commands, ""], answer.alone);
      if (line.startsWith("push ") ? !answersEach(answer.output, commands) : answer.output !== "\n")
        return alone([...commands, ""], "the daemon's answer was not one to this batch");
      relay(answer);
    } else return alone([line]); // the helper says what it makes of anything else
  }
}

/** Whether a push's answer is one line per pushed ref, in order (`ok <dst>` or `error <dst> <why>`), then a blank line. */
function answersEach(output: string, commands: readonly string[]): boolean {
  const lines = output.split("\n");
  if (lines.length !== commands.length + 2 || lines.at(-1) !== "" || lines.at(-2) !== "") return false;
  return commands.every((command, i) => {
    const dst = command.slice(command.lastIndexOf(":") + 1);
    return lines[i] === `ok ${dst}` || lines[i]!.startsWith(`error ${dst} `);
  });
}

// Not awaited: in the bundle (scripts/build-helper.mjs) this module is not the main one, and its entry calls main().
if (import.meta.main) void main();
