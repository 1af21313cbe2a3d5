/**
 * The frames the runner (run.ts) and its git spawner (git-spawner.pl, which describes them) exchange over
 * the spawner's stdin and stdout: u32 length of what follows, one op byte, u32 id, payload (big-endian).
 */

/** To the spawner: start a git whose output comes back whole (`run`) or a long-lived one (`start`); a started one's input (`write`, `end`). */
export type SpawnerRequest =
  | { op: "run"; id: number; args: readonly string[]; env: NodeJS.ProcessEnv; cwd?: string; input: Buffer }
  | { op: "start"; id: number; args: readonly string[]; env: NodeJS.ProcessEnv }
  | { op: "write"; id: number; data: Buffer }
  | { op: "end"; id: number };

/** From the spawner: git's output (`stdout`, `stderr`), its end (`done`: null when a signal ended it), or that it could not start. */
export type SpawnerReply =
  | { op: "stdout" | "stderr"; id: number; data: Buffer }
  | { op: "done"; id: number; code: number | null }
  | { op: "failed"; id: number; message: string };

const REQUEST_OPS = { run: "r", start: "s", write: "w", end: "e" } as const;
const REPLY_OPS: Record<string, SpawnerReply["op"]> = { o: "stdout", x: "stderr", d: "done", f: "failed" };
const HEADER = 9;

export function encodeRequest(request: SpawnerRequest): Buffer {
  let payload: Buffer[] = [];
  if (request.op === "run" || request.op === "start") {
    const env = Object.entries(request.env).flatMap(([name, value]) => (value === undefined ? [] : [`${name}=${value}`]));
    const counts = Buffer.alloc(8);
    counts.writeUInt32BE(request.args.length, 0);
    counts.writeUInt32BE(env.length, 4);
    const strings = [request.op === "run" ? (request.cwd ?? "") : "", ...request.args, ...env];
    for (const text of strings) {
      // A NUL would end the string early on the other side (and no argument or variable can hold one).
      if (text.includes("\0")) throw new TypeError(`git's arguments and environment cannot hold a NUL byte: ${JSON.stringify(text)}`);
    }
    payload = [counts, Buffer.from(strings.map((text) => `${text}\0`).join("")), ...(request.op === "run" ? [request.input] : [])];
  } else if (request.op === "write") {
    payload = [request.data];
  }
  const header = Buffer.alloc(HEADER);
  header.writeUInt32BE(HEADER - 4 + payload.reduce((sum, part) => sum + part.length, 0), 0);
  header.write(REQUEST_OPS[request.op], 4, "latin1");
  header.writeUInt32BE(request.id, 5);
  return Buffer.concat([header, ...payload]);
}

/** Cuts the spawner's stdout into replies, however its chunks fall. */
export class ReplyReader {
  private chunks: Buffer[] = [];
  private buffered = 0;

  /** The replies completed by this chunk. */
  push(chunk: Buffer): SpawnerReply[] {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    const replies: SpawnerReply[] = [];
    while (this.buffered >= 4) {
      const head = this.peek(4);
      const length = head.readUInt32BE(0);
      if (this.buffered < 4 + length) break;
      const frame = this.take(4 + length);
      replies.push(decodeReply(frame));
    }
    return replies;
  }

  private peek(size: number): Buffer {
    if (this.chunks[0]!.length < size) this.chunks = [Buffer.concat(this.chunks)];
    return this.chunks[0]!;
  }

  private take(size: number): Buffer {
    const first = this.peek(size);
    const frame = first.subarray(0, size);
    if (first.length === size) this.chunks.shift();
    else this.chunks[0] = first.subarray(size);
    this.buffered -= size;
    return frame;
  }
}

function decodeReply(frame: Buffer): SpawnerReply {
  const op = REPLY_OPS[String.fromCharCode(frame[4]!)];
  const id = frame.readUInt32BE(5);
  const payload = frame.subarray(HEADER);
  if (op === "stdout" || op === "stderr") return { op, id, data: payload };
  if (op === "done") {
    const code = payload.readInt32BE(0);
    return { op, id, code: code < 0 ? null : code };
  }
  if (op === "failed") return { op, id, message: payload.toString() };
  throw new Error(`the git spawner sent an unknown reply (op byte ${frame[4]})`);
}
