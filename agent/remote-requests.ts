import { realpath } from "node:fs/promises";
import { dirname, isAbsolute, join } from "node:path";
import { converse, helperFailure, openHelperRepository } from "../gitstore/index.ts";
import { settingsDigest } from "../localgit/daemon-socket.ts";
import { commonGitDir } from "../localgit/index.ts";
import { parseRemoteUrl, type DaemonRequest, type Refusal } from "../protocol/index.ts";
import { isAuthFailure } from "./credentials/agent-key.ts";
import { Conversation } from "./daemon-socket.ts";
import { settingsWhenChanged, type FolderSettings, type SyncedFolder } from "./folder/index.ts";
import type { Logger } from "./log.ts";

type RemoteRequest = Extract<DaemonRequest, { ask: "remote-helper" | "remote-helper-in-worktree" }>;

/**
 * The daemon's side of the remote helper git starts in the folder (gitstore/remote-helper/through-daemon.pl):
 * the helper hands over its whole conversation with git, and the daemon holds it with the helper's own
 * code (gitstore/remote-helper/conversation.ts), over the repository opened as the helper opens it (its
 * S3 client and settings) but once, kept warm with its connections, a push or fetch between the daemon's
 * rounds (the engine's `between`); opened again when the bucket refuses the key it was opened with
 * (rotated in the profile since), and the command tried once more with the key as it is then. Only for the
 * folder's own repository and with the settings the helper would use; anything else is declined (`not-served`, `settings-differ`) before git is told anything, and
 * the helper works alone:
 *  - the remote URL names the folder's bucket, prefix and repository;
 *  - from a linked worktree (`remote-helper-in-worktree`), its git directory is one of the folder's
 *    (`.git/worktrees/<name>`, naming the folder's `.git` as its common directory): a push's sources are
 *    resolved there, the rest in the folder's repository, as the helper alone does;
 *  - the helper's environment holds the same AWS settings, identity and home as the daemon's (a digest);
 *  - the folder's git config still says what the daemon opened the folder with (endpoint, region, profile,
 *    agent id, encryption), read again whenever a file git reads them from changed (`.git/config`, the global
 *    and system files, their includes), as the daemon's limits are.
 */
export function remoteRequests(
  folder: SyncedFolder,
  log: Logger,
): { answer: (request: RemoteRequest) => Promise<Conversation>; close: () => Promise<void> } {
  const { settings } = folder;
  let opened: ReturnType<typeof openHelperRepository> | undefined;
  const repository = () => {
    const opening = (opened ??= openHelperRepository(settings.location, folder.layout, folder.gitDir));
    // A failure (the bucket unreachable) is said to this helper and tried again for the next one.
    opening.catch(() => (opened === opening ? (opened = undefined) : undefined));
    return opening;
  };
  const ownSettings = settingsDigest();
  const readChangedSettings = settingsWhenChanged(folder.root, folder.gitDir);
  let configSame = false;
  const configStillSame = async (): Promise<boolean> => {
    const now = await readChangedSettings();
    if (now.changed) configSame = now.settings !== undefined && sameAccess(settings, now.settings);
    return configSame;
  };
  const answer = async (request: RemoteRequest): Promise<Conversation> => {
    const declined = (code: Refusal, message: string) => {
      log("debug", "helper.declined", { ask: request.ask, code, message });
      return Object.assign(new Error(message), { code });
    };
    let location;
    try {
      location = parseRemoteUrl(request.url);
    } catch (error) {
      throw declined("not-served", (error as Error).message);
    }
    const own = settings.location;
    if (location.bucket !== own.bucket || location.prefix !== own.prefix || location.repo !== own.repo)
      throw declined("not-served", `this daemon serves ${own.bucket}/${own.prefix}${own.repo}, not ${request.url}`);
    if (request.settings !== ownSettings)
      throw declined("settings-differ", "the daemon runs with other AWS settings or another identity than this command");
    if (!(await configStillSame())) throw declined("settings-differ", "the folder's settings changed since the daemon opened it");
    const worktree = request.ask === "remote-helper-in-worktree" ? { worktreeGitDir: request.worktree } : {};
    if (request.ask === "remote-helper-in-worktree" && !(await isWorktreeOf(folder.gitDir, request.worktree)))
      throw declined("not-served", `${request.worktree} is not the git directory of a worktree of ${folder.root}`);
    return new Conversation(async (lines, send) => {
      // A frame holds one line: text of several lines (git's answers, a message) goes as one frame a line.
      const sendLines = (kind: "out" | "err", text: string) => {
        for (const line of (text.endsWith("\n") ? text.slice(0, -1) : text).split("\n")) send({ kind, text: line });
      };
      try {
        await converse({
          lines,
          output: (text) => sendLines("out", text),
          say: (line) => sendLines("err", line),
          repository: async () => ({
            store: (await repository()).store,
            layout: folder.layout,
            repo: own.repo,
            gitDir: folder.gitDir,
            ...worktree,
          }),
          agent: async () => settings.agent,
          run: async (work, commands, run) => {
            const ask = `remote-${work}`;
            log("debug", "helper.asked", { ask });
            const start = performance.now();
            const cpu = process.cpuUsage();
            const attempt = () => (work === "list" ? run() : folder.engine.between(run));
            const done = await attempt().catch(async (error: unknown) => {
              if (!isAuthFailure(error)) throw error;
              // The bucket refused the key this daemon holds (rotated since it read it): the repository is opened
              // again, with the key the profile holds now, as the helper alone would read it.
              log("debug", "helper.key-refused", { ask, message: helperFailure(error) });
              const refused = opened;
              opened = undefined;
              void refused?.then(({ s3 }) => s3.destroy()).catch(() => undefined);
              return attempt();
            });
            const event = { list: "helper.listed", push: "helper.pushed", fetch: "helper.fetched" }[work];
            log("debug", event, {
              refs: commands,
              ms: Math.round(performance.now() - start),
              cpuMs: Math.round(cpuMs(process.cpuUsage(cpu))),
            });
            return done;
          },
        });
        send({ kind: "exit", code: 0 });
      } catch (error) {
        // Said as the helper alone says a failure (credentials, endpoint, bucket: which setting to change).
        sendLines("err", `git-remote-cloudbridge: ${helperFailure(error)}`);
        send({ kind: "exit", code: 1 });
      }
    });
  };
  return {
    answer,
    close: async () => {
      (await opened?.catch(() => undefined))?.s3.destroy();
    },
  };
}

/** Whether `dir` is the git directory of a linked worktree of the repository whose git directory is `gitDir`. */
async function isWorktreeOf(gitDir: string, dir: string): Promise<boolean> {
  if (!isAbsolute(dir)) return false;
  const real = (path: string) => realpath(path).catch(() => undefined);
  const [own, worktrees, asked] = await Promise.all([real(gitDir), real(join(gitDir, "worktrees")), real(dir)]);
  return own !== undefined && asked !== undefined && dirname(asked) === worktrees && (await real(commonGitDir(asked, {}))) === own;
}

/** User + system CPU time of a process.cpuUsage() difference, in ms (what the daemon's process spent; git's processes aside). */
function cpuMs(usage: NodeJS.CpuUsage): number {
  return (usage.user + usage.system) / 1000;
}

/** Whether the folder's settings now reach the bucket as those the daemon opened it with. */
function sameAccess(opened: FolderSettings, now: FolderSettings): boolean {
  const same = (a: unknown, b: unknown) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
  return (
    same(opened.location, now.location) &&
    same(opened.endpoint, now.endpoint) &&
    same(opened.region, now.region) &&
    same(opened.profile, now.profile) &&
    opened.agent === now.agent &&
    // A folder made before encryption was recorded has it recorded at its first open.
    (opened.encrypted === undefined || same(opened.encrypted, now.encrypted))
  );
}
