import type { Readable, Writable } from "node:stream";

/**
 * git's long-running filter protocol, version 2 (gitattributes(5), "Long Running Filter Process";
 * git's Documentation/technical/long-running-process-protocol.txt): git starts the filter once per command
 * and hands it every file through pkt-lines on stdin/stdout, instead of one process per file.
 *
 * A pkt-line is 4 hex digits (the length, the 4 digits included) and the data; "0000" is a flush packet
 * that ends a list. After the handshake each request is a list of `key=value` lines (`command=clean`,
 * `pathname=…`), then the content as packets up to a flush; the answer is `status=success`, the content,
 * and an empty list (the status stays). Only the commands given handlers are offered to git.
 */
export type FilterCommand = "clean" | "smudge";

/** Turns a file's content (as git sends it) into what git stores (clean) or writes (smudge). */
export type FilterHandler = (pathname: string, content: AsyncIterable<Buffer>) => Promise<Buffer>;

/** Largest data in one pkt-line (LARGE_PACKET_DATA_MAX). */
const MAX_PACKET_DATA = 65520 - 4;
const FLUSH = Buffer.from("0000");

/** Reads pkt-lines from a stream: data, `null` for a flush packet, `undefined` at the end of the stream. */
export class PacketReader {
  private readonly chunks: AsyncIterator<Buffer>;
  private buffered: Buffer = Buffer.alloc(0);

  constructor(input: Readable) {
    this.chunks = input[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  }

  async next(): Promise<Buffer | null | undefined> {
    if (!(await this.fill(4))) return undefined;
    const header = this.buffered.subarray(0, 4).toString("latin1");
    if (!/^[0-9a-f]{4}$/.test(header)) throw new Error(`git sent a malformed pkt-line header ${JSON.stringify(header)}`);
    const length = parseInt(header, 16);
    if (length === 0) {
      this.buffered = this.buffered.subarray(4);
      return null;
    }
    if (length < 4) throw new Error(`git sent a pkt-line of impossible length ${length}`);
    if (!(await this.fill(length))) throw new Error("git closed the filter's input in the middle of a pkt-line");
    const data = this.buffered.subarray(4, length);
    this.buffered = this.buffered.subarray(length);
    return data;
  }

  /** Text lines up to the next flush (trailing newlines removed). */
  async list(): Promise<string[] | undefined> {
    const lines: string[] = [];
    for (;;) {
      const packet = await this.next();
      if (packet === undefined) {
        if (lines.length === 0) return undefined;
        throw new Error("git closed the filter's input in the middle of a list");
      }
      if (packet === null) return lines;
      lines.push(packet.toString("utf8").replace(/\n$/, ""));
    }
  }

  /**
   * Data packets up to the next flush, as they come; `skipRest` reads past whatever the consumer left (a
   * handler that stopped early or failed), so the next request starts at its own first packet.
   */
  content(): { packets: AsyncIterable<Buffer>; skipRest(): Promise<void> } {
    let ended = false;
    const nextData = async (): Promise<Buffer | undefined> => {
      if (ended) return undefined;
      const packet = await this.next();
      if (packet === undefined) throw new Error("git closed the filter's input in the middle of a file");
      if (packet === null) ended = true;
      return packet ?? undefined;
    };
    return {
      packets: {
        [Symbol.asyncIterator]: () => ({
          next: async () => {
            const value = await nextData();
            return value === undefined ? { done: true, value: undefined } : { done: false, value };
          },
        }),
      },
      skipRest: async () => {
        while ((await nextData()) !== undefined);
      },
    };
  }

  private async fill(length: number): Promise<boolean> {
    while (this.buffered.length < length) {
      const { value, done } = await this.chunks.next();
      if (done) return false;
      this.buffered = this.buffered.length === 0 ? value : Buffer.concat([this.buffered, value]);
    }
    return true;
  }
}

export function packet(data: Buffer | string): Buffer {
  const body = typeof data === "string" ? Buffer.from(data) : data;
  if (body.length > MAX_PACKET_DATA) throw new Error(`a pkt-line holds at most ${MAX_PACKET_DATA} bytes`);
  return Buffer.concat([Buffer.from((body.length + 4).toString(16).padStart(4, "0")), body]);
}

/** Content split into pkt-lines and ended by a flush. */
function contentPackets(content: Buffer): Buffer[] {
  const packets: Buffer[] = [];
  for (let at = 0; at < content.length; at += MAX_PACKET_DATA) packets.push(packet(content.subarray(at, at + MAX_PACKET_DATA)));
  packets.push(FLUSH);
  return packets;
}

function list(lines: readonly string[]): Buffer {
  return Buffer.concat([...lines.map((line) => packet(`${line}\n`)), FLUSH]);
}

async function write(output: Writable, data: Buffer): Promise<void> {
  if (!output.write(data)) await new Promise<void>((resolve) => output.once("drain", resolve));
}

/**
 * Serves git until it closes the filter's input. A handler that fails answers `status=error` for that
 * file (git then keeps the file as it is, the filter not being required) and the filter goes on.
 */
export async function serveFilter(
  input: Readable,
  output: Writable,
  handlers: Partial<Record<FilterCommand, FilterHandler>>,
): Promise<void> {
  const reader = new PacketReader(input);
  const welcome = await reader.list();
  if (welcome === undefined) return;
  if (welcome[0] !== "git-filter-client" || !welcome.includes("version=2")) {
    throw new Error(`not git's long-running filter protocol version 2 (git said ${JSON.stringify(welcome)})`);
  }
  await write(output, list(["git-filter-server", "version=2"]));
  const offered = new Set(((await reader.list()) ?? []).map((line) => line.replace(/^capability=/, "")));
  const served = (Object.keys(handlers) as FilterCommand[]).filter((command) => offered.has(command));
  await write(output, list(served.map((command) => `capability=${command}`)));
  for (;;) {
    const request = await reader.list();
    if (request === undefined) return;
    const fields = new Map(request.map((line) => [line.slice(0, line.indexOf("=")), line.slice(line.indexOf("=") + 1)] as const));
    const handler = handlers[fields.get("command") as FilterCommand];
    const pathname = fields.get("pathname") ?? "";
    const content = reader.content();
    let result: Buffer | undefined;
    try {
      if (handler) result = await handler(pathname, content.packets);
    } catch {
      result = undefined;
    }
    await content.skipRest();
    if (result === undefined) {
      await write(output, list(["status=error"]));
      continue;
    }
    await write(output, list(["status=success"]));
    for (const data of contentPackets(result)) await write(output, data);
    await write(output, FLUSH);
  }
}
