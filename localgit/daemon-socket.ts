import { createHash } from "node:crypto";
import { lstat, type Stats } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { formatDaemonRequest, parseDaemonReply, settingsText, type DaemonReply, type DaemonRequest } from "../protocol/daemon-request.ts";

/**
 * Asking the daemon that serves a repository, through the unix socket it keeps in the repository's state
 * directory (`.git/cloudbridge/daemon.sock`; the daemon's side is agent/daemon-socket.ts, the messages
 * protocol/daemon-request.ts): `cloudbridge sync` and the remote helper git starts ask it to do their work
 * with what it already holds (its watcher's events, a warm S3 client and caches), as git-annex's assistant
 * and Syncthing's REST API are asked, instead of loading everything and doing the work themselves.
 *
 * Only the repository's owner may talk to it, and the asker trusts only a socket that is the owner's: the
 * daemon makes it mode 0600 in the repository's own `.git`, and the asker refuses (and does the work
 * itself) a socket owned by another user or open to others, since whatever answers there could say "nothing
 * to do" or "pushed" while nothing was done. A socket left by a daemon that died is met as a refused
 * connection: the asker then does the work itself, and the next daemon replaces it.
 *
 * This file imports nothing but Node and the messages: it is loaded before anything else.
 */

export const SOCKET_NAME = "daemon.sock";
/** `sun_path` is 108 bytes on Linux (104 on macOS): a folder deeper than that has no socket. */
export const MAX_SOCKET_PATH = 103;

/** What asking gave: the daemon's answer, or why the asker does the work itself. */
export type Asked =
  | { kind: "answered"; reply: DaemonReply }
  /** No daemon serves the repository (no socket, or one left by a daemon that is gone). */
  | { kind: "no-daemon" }
  /** A socket the asker does not trust, or a daemon that went away mid-answer: said, then the work is done here. */
  | { kind: "not-asked"; reason: string };

/** The socket of the repository whose state directory (`.git/cloudbridge`) is `stateDir`. */
export function socketPath(stateDir: string): string {
  return join(stateDir, SOCKET_NAME);
}

/** The digest of this environment's settings the daemon compares with its own (protocol's settingsText). */
export function settingsDigest(env: NodeJS.ProcessEnv = process.env): string {
  return createHash("sha256").update(settingsText(env)).digest("hex");
}

/** Asks the daemon serving the repository whose state directory is `stateDir`. */
export async function askDaemon(stateDir: string, request: DaemonRequest): Promise<Asked> {
  const path = socketPath(stateDir);
  if (Buffer.byteLength(path) > MAX_SOCKET_PATH) return { kind: "no-daemon" };
  // node:fs's callback form: node:fs/promises is a module more to load (1.5 ms of CPU) for one call.
  const stats = await new Promise<Stats | undefined>((found) => lstat(path, (error, s) => found(error ? undefined : s)));
  if (!stats) return { kind: "no-daemon" };
  const uid = process.getuid?.();
  if (!stats.isSocket()) return { kind: "not-asked", reason: `${path} is not a socket` };
  if (uid !== undefined && stats.uid !== uid)
    return { kind: "not-asked", reason: `${path} belongs to user ${stats.uid}, not to you (${uid}): not trusted` };
  if ((stats.mode & 0o077) !== 0)
    return { kind: "not-asked", reason: `${path} is open to other users (mode ${(stats.mode & 0o777).toString(8)}): not trusted` };
  return new Promise<Asked>((done) => {
    const socket = connect({ path });
    let text = "";
    let answered = false;
    socket.setEncoding("utf8");
    socket.on("connect", () => socket.write(formatDaemonRequest(request)));
    socket.on("data", (chunk: string) => {
      text += chunk;
      const end = text.indexOf("\n");
      if (end < 0 || answered) return;
      answered = true;
      socket.destroy();
      const reply = parseDaemonReply(text.slice(0, end));
      done(reply ? { kind: "answered", reply } : { kind: "not-asked", reason: `the daemon's answer on ${path} was not understood` });
    });
    socket.on("error", (error: NodeJS.ErrnoException) => {
      if (answered) return;
      answered = true;
      // Refused: nobody listens (a daemon that died left its socket); gone: it stopped meanwhile.
      if (error.code === "ECONNREFUSED" || error.code === "ENOENT") done({ kind: "no-daemon" });
      else done({ kind: "not-asked", reason: `could not ask the daemon on ${path}: ${error.message}` });
    });
    socket.on("close", () => {
      if (answered) return;
      answered = true;
      done({ kind: "not-asked", reason: "the daemon stopped before it answered" });
    });
  });
}
