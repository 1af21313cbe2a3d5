/**
 * What a local command asks the daemon serving a folder through the folder's socket, and what the daemon
 * answers: one line of JSON each way (the socket itself is localgit/daemon-socket.ts on the asking side and
 * agent/daemon-socket.ts on the daemon's). Writer and parser side by side; no I/O, no schema library (the
 * remote helper git starts at every push reads this before anything else).
 *
 * - `sync`: `cloudbridge sync` (the daemon's round over what its watcher saw; the value is the round's report);
 * - `remote-helper`: the remote helper git starts hands the daemon its whole conversation with git
 *   (gitremote-helpers(7): capabilities, options, list, push, fetch). The value `CONVERSATION` says the
 *   daemon takes it: from then on the helper relays git's lines to the daemon as they are, and the daemon
 *   sends back frames (`formatHelperFrame`): a line for git's stdout, a line for the helper's stderr, and
 *   last the helper's exit code. The helper that relays is gitstore/remote-helper/through-daemon.pl, a
 *   Perl program (this file is its contract too: keep the two in step).
 *
 * A remote-helper request names the remote URL git gave the helper and a digest of the settings of the
 * helper's environment (`SETTINGS_ENVIRONMENT`): the daemon takes the conversation only for its own
 * repository, reached with the settings the helper would use; otherwise it refuses (`REFUSALS`) before
 * anything is said to git, and the helper works alone.
 *
 * - `remote-helper-in-worktree`: the same, from a linked worktree of the folder (`git worktree add`), whose
 *   git directory (`worktree`, `.git/worktrees/<name>`) is where a push's sources are resolved: git sends them
 *   as written (`HEAD`, `HEAD~1`), and they are the worktree's own. An ask of its own, not a field of
 *   `remote-helper`: a daemon that does not know it declines it ("unsupported") rather than resolve the
 *   sources in the folder's own worktree and push another commit.
 */

/** The version of the request and the answer (a daemon older or newer than the command answers "unsupported"). */
export const SOCKET_VERSION = 1;
/** A request is one short line; anything longer is not from a command. */
export const MAX_REQUEST_BYTES = 256 * 1024;

export type DaemonRequest =
  | { version: number; ask: "sync" }
  | { version: number; ask: "remote-helper"; url: string; settings: string }
  | { version: number; ask: "remote-helper-in-worktree"; url: string; settings: string; worktree: string };

export type DaemonAsk = DaemonRequest["ask"];

export type DaemonReply = { ok: true; value: unknown } | { ok: false; code: string; message: string };

/** The value of the reply by which the daemon takes the remote helper's conversation (written as `{"ok":true,"value":"conversation"}`). */
export const CONVERSATION = "conversation";

/**
 * What the daemon sends in the remote helper's conversation, one line each: `out <text>` (a line for git,
 * the newline not included), `err <text>` (a line for the helper's stderr), `exit <code>` (the last: the
 * helper exits with it). git's side needs no frame: its lines are relayed as git wrote them.
 */
export type HelperFrame = { kind: "out" | "err"; text: string } | { kind: "exit"; code: number };

/**
 * Error codes by which a daemon declines a remote request before doing anything: the helper then does the
 * work itself, as with no daemon, and says nothing. Any other error code before the conversation is said on
 * stderr (the helper still works alone). The relay (gitstore/remote-helper/through-daemon.pl) holds these
 * codes in a regex of its own; a unit test runs it against each of them.
 */
export const REFUSALS = ["unsupported", "bad-request", "not-served", "settings-differ"] as const;
export type Refusal = (typeof REFUSALS)[number];

/**
 * The environment variables that change how a process reaches the bucket or reads an encrypted repository:
 * the AWS settings (key, profile, region, endpoint, retries, shared files), where the shared files and
 * the default identity are (HOME, XDG_CONFIG_HOME), the identity, and which git configuration files are
 * read (GIT_CONFIG_GLOBAL…) or given on the command line (`git -c cloudbridge.endpoint=… push` passes
 * GIT_CONFIG_PARAMETERS to the helper). The helper and the daemon compare a digest of these (`settingsText`),
 * so a push is never signed, sent or decrypted otherwise than the helper alone would.
 */
export const SETTINGS_ENVIRONMENT =
  /^(AWS_.*|GIT_CONFIG_PARAMETERS|GIT_CONFIG_GLOBAL|GIT_CONFIG_SYSTEM|GIT_CONFIG_NOSYSTEM|HOME|USERPROFILE|XDG_CONFIG_HOME|CLOUDBRIDGE_IDENTITY)$/;

/**
 * Of git's configuration given as GIT_CONFIG_COUNT / GIT_CONFIG_KEY_<n> / GIT_CONFIG_VALUE_<n>, the settings the
 * remote helper reads (gitstore's bucket-access.ts, recorded-encryption.ts, agent-id.ts; a unit test keeps
 * them in step) and includes, which could bring any of them. Others (the daemon's own overrides for one run:
 * listen, intervals, debounce) change nothing of a push.
 */
export const SETTINGS_CONFIG =
  /^(cloudbridge\.(endpoint|region|profile|encrypted|agent|bucket|prefix|repo)|annex\.uuid|include\..*|includeif\..*)$/i;

/** The settings part of an environment as one text, the same for the same settings whatever their order. */
export function settingsText(env: Readonly<Record<string, string | undefined>>): string {
  const lines = Object.keys(env)
    .filter((name) => SETTINGS_ENVIRONMENT.test(name) && env[name] !== undefined && env[name] !== "")
    .map((name) => `${name}=${env[name]}`);
  const count = Number(env.GIT_CONFIG_COUNT ?? 0);
  for (let i = 0; Number.isInteger(count) && i < count; i++) {
    const key = env[`GIT_CONFIG_KEY_${i}`] ?? "";
    if (SETTINGS_CONFIG.test(key)) lines.push(`git config ${key.toLowerCase()}=${env[`GIT_CONFIG_VALUE_${i}`] ?? ""}`);
  }
  return lines
    .sort()
    .map((line) => `${line}\n`)
    .join("");
}

export function formatDaemonRequest(request: DaemonRequest): string {
  return `${JSON.stringify(request)}\n`;
}

/** The request a line holds, or the reply that says why it is refused (nothing else is done with it). */
export function parseDaemonRequest(line: string): DaemonRequest | { refused: DaemonReply & { ok: false; code: Refusal } } {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return { refused: { ok: false, code: "bad-request", message: "a request is one line of JSON" } };
  }
  const request = (typeof value === "object" && value !== null ? value : {}) as Record<string, unknown>;
  const unsupported = {
    refused: {
      ok: false as const,
      code: "unsupported" as const,
      message: `this daemon answers version ${SOCKET_VERSION} requests to sync, remote-helper and remote-helper-in-worktree`,
    },
  };
  if (request.version !== SOCKET_VERSION) return unsupported;
  const bad = (what: string) => ({
    refused: { ok: false as const, code: "bad-request" as const, message: `a ${String(request.ask)} request ${what}` },
  });
  switch (request.ask) {
    case "sync":
      return { version: SOCKET_VERSION, ask: "sync" };
    case "remote-helper":
      if (typeof request.url !== "string" || typeof request.settings !== "string") return bad("names a url and a settings digest");
      return { version: SOCKET_VERSION, ask: "remote-helper", url: request.url, settings: request.settings };
    case "remote-helper-in-worktree":
      if (typeof request.url !== "string" || typeof request.settings !== "string" || typeof request.worktree !== "string")
        return bad("names a url, a settings digest and a worktree's git directory");
      return {
        version: SOCKET_VERSION,
        ask: "remote-helper-in-worktree",
        url: request.url,
        settings: request.settings,
        worktree: request.worktree,
      };
    default:
      return unsupported;
  }
}

export function formatDaemonReply(reply: DaemonReply): string {
  return `${JSON.stringify(reply)}\n`;
}

/** The reply a line holds, or undefined when it is not one (a command then does the work itself). */
export function parseDaemonReply(line: string): DaemonReply | undefined {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (typeof value !== "object" || value === null) return undefined;
  const reply = value as Record<string, unknown>;
  if (reply.ok === true && "value" in reply) return { ok: true, value: reply.value };
  if (reply.ok === false && typeof reply.code === "string" && typeof reply.message === "string")
    return { ok: false, code: reply.code, message: reply.message };
  return undefined;
}

/** A frame of the remote helper's conversation as the daemon sends it (the text of `out` and `err` holds no newline). */
export function formatHelperFrame(frame: HelperFrame): string {
  return frame.kind === "exit" ? `exit ${frame.code}\n` : `${frame.kind} ${frame.text}\n`;
}

/** The frame a line holds (without its newline), or undefined when it is none. */
export function parseHelperFrame(line: string): HelperFrame | undefined {
  const exit = /^exit (\d{1,3})$/.exec(line);
  if (exit) return { kind: "exit", code: Number(exit[1]) };
  if (line.startsWith("out ") || line.startsWith("err ")) return { kind: line.slice(0, 3) as "out" | "err", text: line.slice(4) };
  return undefined;
}
