/**
 * What a local command asks the daemon serving a folder through the folder's socket, and what the daemon
 * answers: one line of JSON each way (the socket itself is localgit/daemon-socket.ts on the asking side and
 * agent/daemon-socket.ts on the daemon's). Writer and parser side by side; no I/O, no schema library (the
 * remote helper git starts at every push reads this before anything else).
 *
 * - `sync`: `cloudbridge sync` (the daemon's round over what its watcher saw; the value is the round's report);
 * - `remote-list`: the remote helper's `list` / `list for-push`, answered as the helper would answer git;
 * - `remote-push`: the helper's batch of `push` commands, answered as the helper would answer git;
 * - `remote-fetch`: the helper's batch of `fetch` commands (the objects brought into the repository).
 *
 * A remote request names the remote URL git gave the helper and a digest of the settings of the helper's
 * environment (`SETTINGS_ENVIRONMENT`): the daemon does the work only for its own repository, reached
 * with the settings the helper would use; otherwise it refuses (`REFUSALS`) and the helper works alone.
 */

/** The version of the request and the answer (a daemon older or newer than the command answers "unsupported"). */
export const SOCKET_VERSION = 1;
/** A request is one short line; anything longer is not from a command. */
export const MAX_REQUEST_BYTES = 256 * 1024;

export type DaemonRequest =
  | { version: number; ask: "sync" }
  | { version: number; ask: "remote-list"; url: string; settings: string; forPush: boolean }
  | { version: number; ask: "remote-push"; url: string; settings: string; commands: string[]; dryRun: boolean }
  | { version: number; ask: "remote-fetch"; url: string; settings: string; commands: string[] };

export type DaemonAsk = DaemonRequest["ask"];

export type DaemonReply = { ok: true; value: unknown } | { ok: false; code: string; message: string };

/** What the daemon answers a remote request with: the text for git's stdout, and lines for the helper's stderr. */
export interface RemoteAnswer {
  output: string;
  /** Said on the helper's stderr (warnings). */
  stderr: string[];
  /** Said on the helper's stderr when git asked for them (`-v`). */
  progress: string[];
}

/**
 * Error codes by which a daemon declines a remote request before doing anything: the helper then does the
 * work itself, as with no daemon. Any other error code is the work failing, said by the helper as its own.
 */
export const REFUSALS = ["unsupported", "bad-request", "not-served", "settings-differ"] as const;

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
export const SETTINGS_CONFIG = /^(cloudbridge\.(endpoint|region|profile|encrypted|agent)|annex\.uuid|include\..*|includeif\..*)$/i;

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
export function parseDaemonRequest(line: string): DaemonRequest | { refused: DaemonReply & { ok: false } } {
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
      code: "unsupported",
      message: `this daemon answers version ${SOCKET_VERSION} requests to sync, remote-list, remote-push and remote-fetch`,
    },
  };
  if (request.version !== SOCKET_VERSION) return unsupported;
  const bad = (what: string) => ({
    refused: { ok: false as const, code: "bad-request", message: `a ${String(request.ask)} request ${what}` },
  });
  switch (request.ask) {
    case "sync":
      return { version: SOCKET_VERSION, ask: "sync" };
    case "remote-list":
    case "remote-push":
    case "remote-fetch": {
      if (typeof request.url !== "string" || typeof request.settings !== "string") return bad("names a url and a settings digest");
      if (request.ask === "remote-list") {
        if (typeof request.forPush !== "boolean") return bad("says whether it is for a push");
        return { version: SOCKET_VERSION, ask: "remote-list", url: request.url, settings: request.settings, forPush: request.forPush };
      }
      const command = request.ask === "remote-push" ? "push" : "fetch";
      const commands = request.commands;
      if (
        !Array.isArray(commands) ||
        commands.length === 0 ||
        !commands.every((c) => typeof c === "string" && c.startsWith(`${command} `) && !c.includes("\n"))
      )
        return bad(`holds git's ${command} commands`);
      const common = { version: SOCKET_VERSION, url: request.url, settings: request.settings, commands: commands as string[] };
      if (request.ask === "remote-fetch") return { ...common, ask: "remote-fetch" };
      if (typeof request.dryRun !== "boolean") return bad("says whether it is a dry run");
      return { ...common, ask: "remote-push", dryRun: request.dryRun };
    }
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

/** A remote request's answer, or undefined when the value is not one (a lying or broken daemon). */
export function asRemoteAnswer(value: unknown): RemoteAnswer | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const { output, stderr, progress } = value as Record<string, unknown>;
  const lines = (list: unknown): list is string[] => Array.isArray(list) && list.every((line) => typeof line === "string");
  if (typeof output !== "string" || !output.endsWith("\n") || !lines(stderr) || !lines(progress)) return undefined;
  return { output, stderr, progress };
}

export function isRefusal(reply: DaemonReply): boolean {
  return !reply.ok && (REFUSALS as readonly string[]).includes(reply.code);
}
