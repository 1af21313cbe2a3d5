import { connect, createServer, type Server, type Socket } from "node:net";
import { chmod, lstat, rm } from "node:fs/promises";
import { join } from "node:path";

/**
 * The folder's daemon socket: a unix socket at `.git/cloudbridge/daemon.sock` through which a command asks
 * the daemon that already serves the folder to do the work (as git-annex's assistant and Syncthing's REST
 * API are asked), instead of loading the agent, reading the stat cache and looking at every file itself:
 * the daemon's watcher already knows what changed. One JSON line each way.
 *
 * Only the folder's owner may talk to it, and the command trusts only a socket that is the owner's: the
 * daemon makes it mode 0600 in the folder's own `.git`, and the command refuses (and does the work itself)
 * a socket owned by another user or open to others, since whatever answers there could say "nothing to
 * do" while something changed. A socket left by a daemon that died is met as a refused connection: the
 * command then does the work itself, and the next daemon replaces it.
 *
 * This file imports nothing but Node: the command asks before it loads anything else.
 */

export const SOCKET_NAME = "daemon.sock";
/** What the request and the answer are (a daemon older or newer than the command answers "unsupported"). */
export const SOCKET_VERSION = 1;
/** `sun_path` is 108 bytes on Linux (104 on macOS): a folder deeper than that has no socket. */
const MAX_SOCKET_PATH = 103;
/** A request is one short line; anything longer is not from the CLI. */
const MAX_REQUEST = 64 * 1024;

export type DaemonRequest = { version: number; ask: "sync" };
export type DaemonReply = { ok: true; value: unknown } | { ok: false; code: string; message: string };

/** What asking gave: the daemon's answer, or why the command does the work itself. */
export type Asked =
  | { kind: "answered"; reply: DaemonReply }
  /** No daemon serves the folder (no socket, or one left by a daemon that is gone). */
  | { kind: "no-daemon" }
  /** A socket the command does not trust, or a daemon that went away mid-answer: said, then the work is done here. */
  | { kind: "not-asked"; reason: string };

export function socketPath(stateDir: string): string {
  return join(stateDir, SOCKET_NAME);
}

/** Asks the daemon serving the folder whose state directory is `stateDir`. */
export async function askDaemon(stateDir: string, ask: DaemonRequest["ask"]): Promise<Asked> {
  const path = socketPath(stateDir);
  if (Buffer.byteLength(path) > MAX_SOCKET_PATH) return { kind: "no-daemon" };
  let stats;
  try {
    stats = await lstat(path);
  } catch {
    return { kind: "no-daemon" };
  }
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
    socket.on("connect", () => socket.write(`${JSON.stringify({ version: SOCKET_VERSION, ask } satisfies DaemonRequest)}\n`));
    socket.on("data", (chunk: string) => {
      text += chunk;
      const end = text.indexOf("\n");
      if (end < 0 || answered) return;
      answered = true;
      socket.destroy();
      try {
        done({ kind: "answered", reply: JSON.parse(text.slice(0, end)) as DaemonReply });
      } catch {
        done({ kind: "not-asked", reason: `the daemon's answer on ${path} was not understood` });
      }
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

export interface SocketService {
  close(): Promise<void>;
}

/**
 * The daemon's side: answers requests on the folder's socket with `handle` (its value, or the error's
 * code and message). Undefined when the folder's path is too long for a socket (commands then do the
 * work themselves). Whatever was at the socket's path is replaced: the caller serves the folder (its pid
 * file says so), so a socket there was left by a daemon that died.
 */
export async function serveDaemonSocket(
  stateDir: string,
  handle: (ask: DaemonRequest["ask"]) => Promise<unknown>,
): Promise<SocketService | undefined> {
  const path = socketPath(stateDir);
  if (Buffer.byteLength(path) > MAX_SOCKET_PATH) return undefined;
  await rm(path, { force: true });
  const connections = new Set<Socket>();
  const server: Server = createServer((socket) => {
    connections.add(socket);
    socket.on("close", () => connections.delete(socket));
    socket.on("error", () => socket.destroy());
    let text = "";
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => {
      if (text.includes("\n")) return;
      text += chunk;
      if (text.length > MAX_REQUEST) return socket.destroy();
      const end = text.indexOf("\n");
      if (end < 0) return;
      void answer(text.slice(0, end)).then((reply) => {
        if (!socket.destroyed) socket.end(`${JSON.stringify(reply)}\n`);
      });
    });
  });
  const answer = async (line: string): Promise<DaemonReply> => {
    let request: Partial<DaemonRequest>;
    try {
      request = JSON.parse(line) as Partial<DaemonRequest>;
    } catch {
      return { ok: false, code: "bad-request", message: "a request is one line of JSON" };
    }
    if (request.version !== SOCKET_VERSION || request.ask !== "sync")
      return { ok: false, code: "unsupported", message: `this daemon answers version ${SOCKET_VERSION} requests to sync` };
    try {
      return { ok: true, value: await handle(request.ask) };
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      return { ok: false, code: typeof code === "string" ? code : "failed", message: (error as Error).message };
    }
  };
  // Made 0600 from the start: bind creates the file under the umask, so there is no moment at which
  // another user could connect. The umask is the process's: put back at once (bind is synchronous), before
  // anything else of the daemon writes a file.
  const listening = new Promise<void>((ok, fail) => {
    server.once("error", fail);
    server.once("listening", () => {
      server.off("error", fail);
      ok();
    });
  });
  const umask = process.umask(0o077);
  try {
    server.listen(path);
  } finally {
    process.umask(umask);
  }
  await listening;
  await chmod(path, 0o600);
  const { ino } = await lstat(path);
  return {
    close: async () => {
      await new Promise<void>((done) => {
        server.close(() => done());
        for (const socket of connections) socket.destroy();
      });
      // Node removes the socket file on close; one that a later daemon made there is not ours to remove.
      const now = await lstat(path).catch(() => undefined);
      if (now?.ino === ino) await rm(path, { force: true });
    },
  };
}
