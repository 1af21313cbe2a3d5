import { createServer, type Server, type Socket } from "node:net";
import { chmod, lstat, rm } from "node:fs/promises";
import { MAX_SOCKET_PATH, socketPath } from "../localgit/daemon-socket.ts";
import {
  CONVERSATION,
  formatDaemonReply,
  formatHelperFrame,
  MAX_REQUEST_BYTES,
  parseDaemonRequest,
  type DaemonReply,
  type DaemonRequest,
  type HelperFrame,
} from "../protocol/daemon-request.ts";

/**
 * The daemon's side of the folder's socket (`.git/cloudbridge/daemon.sock`), through which a command asks
 * the daemon that already serves the folder to do the work: `cloudbridge sync` and the remote helper git
 * starts for a push. The asking side and the trust rules are localgit/daemon-socket.ts (and, for the remote
 * helper, gitstore/remote-helper/through-daemon.pl), the messages protocol/daemon-request.ts.
 */

/**
 * A handler's value that keeps the connection after the reply (which then says `CONVERSATION`): the asker's
 * further lines are given to `talk` one at a time, and what it sends goes back as frames until it returns.
 */
export class Conversation {
  readonly talk: (lines: AsyncIterator<string>, send: (frame: HelperFrame) => void) => Promise<void>;
  constructor(talk: Conversation["talk"]) {
    this.talk = talk;
  }
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
  handle: (request: DaemonRequest) => Promise<unknown>,
): Promise<SocketService | undefined> {
  const path = socketPath(stateDir);
  if (Buffer.byteLength(path) > MAX_SOCKET_PATH) return undefined;
  await rm(path, { force: true });
  const connections = new Set<Socket>();
  /** Answers being worked out: a push the daemon started is answered before the socket closes. */
  const answering = new Set<Promise<unknown>>();
  // Half-open: an asker that has said all it has to say (git's end of a conversation) still gets the answer.
  const server: Server = createServer({ allowHalfOpen: true }, (socket) => {
    connections.add(socket);
    socket.on("close", () => connections.delete(socket));
    socket.on("error", () => socket.destroy());
    let text = "";
    let asked = false;
    /** The asker's lines after its request, once a conversation has taken the connection. */
    let conversation: LineQueue | undefined;
    socket.setEncoding("utf8");
    // An asker gone quiet before its request is whole will not complete it.
    socket.once("end", () => (asked ? undefined : socket.destroy()));
    socket.on("data", (chunk: string) => {
      if (conversation) return conversation.push(chunk);
      text += chunk; // after the request: the start of a conversation, kept until it is taken
      if (text.length > MAX_REQUEST_BYTES) return socket.destroy();
      const end = text.indexOf("\n");
      if (end < 0 || asked) return;
      asked = true;
      const answered = answer(text.slice(0, end)).then(async (reply) => {
        if (socket.destroyed) return;
        if (!(reply instanceof Conversation)) return void socket.end(formatDaemonReply(reply));
        socket.write(formatDaemonReply({ ok: true, value: CONVERSATION }));
        const lines = (conversation = new LineQueue(() => socket.destroy()));
        lines.push(text.slice(end + 1));
        if (socket.readableEnded) lines.end();
        socket.once("end", () => lines.end());
        socket.once("close", () => lines.end());
        try {
          await reply.talk(lines, (frame) => {
            if (!socket.destroyed) socket.write(formatHelperFrame(frame));
          });
          if (!socket.destroyed) socket.end();
        } catch {
          socket.destroy(); // the asker then says the daemon went away mid-conversation
        }
      });
      answering.add(answered);
      void answered.finally(() => answering.delete(answered));
    });
  });
  const answer = async (line: string): Promise<DaemonReply | Conversation> => {
    const request = parseDaemonRequest(line);
    if ("refused" in request) return request.refused;
    try {
      const value = await handle(request);
      return value instanceof Conversation ? value : { ok: true, value };
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

/** Lines of text arriving in chunks, read one at a time (without their newlines); one longer than a request may be is refused. */
class LineQueue implements AsyncIterator<string> {
  private text = "";
  private lines: string[] = [];
  private ended = false;
  private waiting: ((next: IteratorResult<string>) => void) | undefined;
  private readonly tooLong: () => void;
  constructor(tooLong: () => void) {
    this.tooLong = tooLong;
  }
  push(chunk: string): void {
    this.text += chunk;
    for (let end = this.text.indexOf("\n"); end >= 0; end = this.text.indexOf("\n")) {
      this.lines.push(this.text.slice(0, end));
      this.text = this.text.slice(end + 1);
    }
    if (this.text.length > MAX_REQUEST_BYTES) return this.tooLong();
    this.wake();
  }
  end(): void {
    this.ended = true;
    this.wake();
  }
  next(): Promise<IteratorResult<string>> {
    return new Promise((resolve) => {
      this.waiting = resolve;
      this.wake();
    });
  }
  private wake(): void {
    const resolve = this.waiting;
    if (!resolve || (this.lines.length === 0 && !this.ended)) return;
    this.waiting = undefined;
    resolve(this.lines.length > 0 ? { done: false, value: this.lines.shift()! } : { done: true, value: undefined });
  }
}
