import { createServer, type Server, type Socket } from "node:net";
import { chmod, lstat, rm } from "node:fs/promises";
import { MAX_SOCKET_PATH, socketPath } from "../localgit/daemon-socket.ts";
import {
  formatDaemonReply,
  MAX_REQUEST_BYTES,
  parseDaemonRequest,
  type DaemonReply,
  type DaemonRequest,
} from "../protocol/daemon-request.ts";

/**
 * The daemon's side of the folder's socket (`.git/cloudbridge/daemon.sock`), through which a command asks
 * the daemon that already serves the folder to do the work: `cloudbridge sync` and the remote helper git
 * starts for a push. The asking side and the trust rules are localgit/daemon-socket.ts, the messages
 * protocol/daemon-request.ts.
 */

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
  handle: (request: DaemonRequest) => Promise<unknown>,
): Promise<SocketService | undefined> {
  const path = socketPath(stateDir);
  if (Buffer.byteLength(path) > MAX_SOCKET_PATH) return undefined;
  await rm(path, { force: true });
  const connections = new Set<Socket>();
  /** Answers being worked out: a push the daemon started is answered before the socket closes. */
  const answering = new Set<Promise<unknown>>();
  const server: Server = createServer((socket) => {
    connections.add(socket);
    socket.on("close", () => connections.delete(socket));
    socket.on("error", () => socket.destroy());
    let text = "";
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => {
      if (text.includes("\n")) return;
      text += chunk;
      if (text.length > MAX_REQUEST_BYTES) return socket.destroy();
      const end = text.indexOf("\n");
      if (end < 0) return;
      const answered = answer(text.slice(0, end)).then((reply) => {
        if (!socket.destroyed) socket.end(formatDaemonReply(reply));
      });
      answering.add(answered);
      void answered.finally(() => answering.delete(answered));
    });
  });
  const answer = async (line: string): Promise<DaemonReply> => {
    const request = parseDaemonRequest(line);
    if ("refused" in request) return request.refused;
    try {
      return { ok: true, value: await handle(request) };
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
      // No new request; those being answered are answered (a push half done is finished and said), then the rest goes.
      const closed = new Promise<void>((done) => server.close(() => done()));
      await Promise.allSettled([...answering]);
      for (const socket of connections) socket.destroy();
      await closed;
      // Node removes the socket file on close; one that a later daemon made there is not ours to remove.
      const now = await lstat(path).catch(() => undefined);
      if (now?.ino === ino) await rm(path, { force: true });
    },
  };
}
