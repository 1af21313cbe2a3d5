import { createHash, randomBytes } from "node:crypto";
import { mkdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { LocalGitError } from "./errors.ts";
import { joinNul, runGit, startGit, type GitOptions } from "./run.ts";
import { encodePath } from "./tree.ts";

/**
 * Node's zlib, loaded at its first use rather than with this module: ~1.6 ms of CPU off the start of a
 * short-lived process (the remote helper, whose first use comes while git makes its pack).
 */
const zlib = () => process.getBuiltinModule("node:zlib");

/** Objects of a local repository: which are present, writing blobs, reading blobs in batches. */

/** An object as `cat-file --batch` gives it. */
export interface GitObject {
  /** Its id (what a name such as `<commit>^{tree}` resolved to). */
  oid: string;
  type: string;
  body: Buffer;
}

/** Which of `oids` the repository has. */
export async function hasObjects(gitDir: string, oids: readonly string[]): Promise<Set<string>> {
  if (oids.length === 0) return new Set();
  const run = await runGit(["cat-file", "--batch-check=%(objectname) %(objecttype)"], { gitDir, input: `${oids.join("\n")}\n` });
  const present = new Set<string>();
  for (const line of run.stdout.toString().split("\n")) {
    const [oid, type] = line.split(" ");
    if (oid && type && type !== "missing") present.add(oid);
  }
  return present;
}

/** Bytes of paths per `git hash-object` run: well under Linux's ARG_MAX (2 MiB, with the environment). */
const HASH_ARGS_BYTES = 512 * 1024;

/**
 * Writes the blobs of these files (`hash-object -w --no-filters -- <paths>`) and returns their ids in the
 * order given. The paths go as arguments, which are NUL-delimited by nature: `--stdin-paths` reads lines
 * and has no `-z`. The answer holds only object ids, one per line.
 */
export async function hashObjectFiles(paths: readonly string[], options: GitOptions = {}): Promise<string[]> {
  const oids: string[] = [];
  for (let start = 0; start < paths.length;) {
    let end = start;
    for (let bytes = 0; end < paths.length && (end === start || bytes + Buffer.byteLength(paths[end]!) < HASH_ARGS_BYTES); end++) {
      bytes += Buffer.byteLength(paths[end]!) + 1;
    }
    const batch = paths.slice(start, end);
    const answer = (await runGit(["hash-object", "-w", "--no-filters", "--", ...batch], options)).stdout.toString().split("\n");
    if (answer.at(-1) === "") answer.pop();
    if (answer.length !== batch.length) {
      throw new LocalGitError("git-failed", `git hash-object answered ${answer.length} ids for ${batch.length} files`);
    }
    oids.push(...answer);
    start = end;
  }
  return oids;
}

/**
 * Many objects (or `<rev>:<path>` names) at once through one `cat-file --batch`: the content of each, or
 * undefined when it is not there. For a batch known in advance; `BlobReader` serves one at a time.
 */
export async function readObjects(gitDir: string, names: readonly string[]): Promise<Array<Buffer | undefined>> {
  if (names.length === 0) return [];
  const { stdout } = await runGit(["cat-file", "--batch", "-z"], { gitDir, input: joinNul(names) });
  const contents: Array<Buffer | undefined> = [];
  let offset = 0;
  for (const name of names) {
    // A name git could not resolve comes back whole (newlines included) before " missing"; a found
    // object's header holds only its id, type and size.
    const unresolved = [" missing\n", " ambiguous\n"]
      .map((answer) => Buffer.concat([encodePath(name), Buffer.from(answer)]))
      .find((answer) => stdout.subarray(offset, offset + answer.length).equals(answer));
    if (unresolved) {
      contents.push(undefined);
      offset += unresolved.length;
      continue;
    }
    const headerEnd = stdout.indexOf(0x0a, offset);
    const size = Number(stdout.subarray(offset, headerEnd).toString().split(" ")[2]);
    contents.push(stdout.subarray(headerEnd + 1, headerEnd + 1 + size));
    offset = headerEnd + 1 + size + 1;
  }
  return contents;
}

/** The size of each object, in order (NaN for one that is missing). */
export async function objectSizes(gitDir: string, oids: readonly string[]): Promise<number[]> {
  if (oids.length === 0) return [];
  const { stdout } = await runGit(["cat-file", "--batch-check=%(objectname) %(objectsize)"], {
    gitDir,
    input: oids.map((oid) => `${oid}\n`).join(""),
  });
  return stdout
    .toString()
    .split("\n")
    .filter(Boolean)
    .map((line) => Number(line.split(" ")[1]));
}

/**
 * Reads many objects, one at a time as they are needed, through one `git cat-file --batch` process. Output
 * chunks are kept as they arrive and joined once per object (never re-copied per chunk), so a large blob
 * costs time linear in its size. Reads asked for together are answered in order through the same pipe.
 * `env` may name extra object directories (a fetch's quarantine).
 */
export class BlobReader {
  private readonly child;
  private chunks: Buffer[] = [];
  private buffered = 0;
  /** The object being read: header parsed, waiting for `size` bytes of body and a newline. */
  private pending: { oid: string; type: string; size: number } | undefined;
  private waiting: Array<{ resolve: (o: GitObject | undefined) => void; reject: (e: Error) => void }> = [];
  private closed = false;
  /** Kept between uses (`keptOpen`): the process holds this one's event loop only while a read waits. */
  private readonly idleUnref: boolean;

  /**
   * `keptOpen`: a reader kept for the life of its owner (no `close` needed): while no read waits it keeps
   * nothing alive, and when this process exits git sees its input end and exits too.
   */
  constructor(gitDir: string, options: { env?: Record<string, string>; keptOpen?: boolean } = {}) {
    this.child = startGit(["cat-file", "--batch"], { gitDir, ...(options.env ? { env: options.env } : {}) });
    this.idleUnref = options.keptOpen === true;
    if (this.idleUnref) this.idle(true);
    this.child.stdout.on("data", (chunk: Buffer) => {
      this.chunks.push(chunk);
      this.buffered += chunk.length;
      this.drain();
    });
    this.child.on("close", () => {
      this.closed = true;
      for (const w of this.waiting.splice(0)) w.reject(new LocalGitError("git-failed", "git cat-file --batch exited early"));
    });
  }

  /** The content of an object, or undefined when it is not there. */
  async read(oid: string): Promise<Buffer | undefined> {
    return (await this.readObject(oid))?.body;
  }

  /** Whether the process is gone (closed, or it exited): a kept reader is then started again by its owner. */
  get isClosed(): boolean {
    return this.closed;
  }

  /** An object's type and content, or undefined when it is not there. */
  readObject(oid: string): Promise<GitObject | undefined> {
    if (this.closed) return Promise.reject(new LocalGitError("git-failed", "git cat-file --batch is closed"));
    if (this.idleUnref && this.waiting.length === 0) this.idle(false);
    return new Promise((resolve, reject) => {
      this.waiting.push({ resolve, reject });
      this.child.stdin.write(`${oid}\n`);
    });
  }

  /** The first `length` buffered bytes, removed from the buffer (what follows is copied: it is small). */
  private take(length: number): Buffer {
    const all = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks, this.buffered);
    this.chunks = all.length > length ? [Buffer.from(all.subarray(length))] : [];
    this.buffered -= length;
    return all.subarray(0, length);
  }

  private drain(): void {
    while (this.waiting.length > 0) {
      if (!this.pending) {
        const head = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks, this.buffered);
        this.chunks = this.buffered > 0 ? [head] : [];
        const newline = head.indexOf(10);
        if (newline < 0) return;
        const header = this.take(newline + 1)
          .toString()
          .trimEnd();
        if (header.endsWith(" missing") || header.endsWith(" ambiguous")) {
          this.waiting.shift()!.resolve(undefined);
          continue;
        }
        const [oid, type, size] = header.split(" ");
        this.pending = { oid: oid!, type: type!, size: Number(size) };
      }
      if (this.buffered < this.pending.size + 1) return;
      const body = this.take(this.pending.size + 1).subarray(0, this.pending.size);
      const { oid, type } = this.pending;
      this.pending = undefined;
      this.waiting.shift()!.resolve({ oid, type, body });
    }
    if (this.idleUnref && this.waiting.length === 0) this.idle(true);
  }

  /** Idle: the process, its pipes, keep this process's event loop alive no more (busy: they do). */
  private idle(idle: boolean): void {
    if (idle) this.child.unref();
    else this.child.ref();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await new Promise<void>((resolve) => {
      this.child.once("close", () => resolve());
      this.child.stdin.end();
    });
  }
}

/**
 * An object read as git writes a loose one (writeLooseObject's format), without starting git; undefined
 * when `oid` is not a loose object here (packed, absent) or not readable as one.
 */
export async function readLooseObject(gitDir: string, oid: string): Promise<GitObject | undefined> {
  if (!/^[0-9a-f]{40}$|^[0-9a-f]{64}$/.test(oid)) return undefined;
  const compressed = await readFile(join(gitDir, "objects", oid.slice(0, 2), oid.slice(2))).catch(() => undefined);
  if (!compressed) return undefined;
  let raw: Buffer;
  try {
    raw = zlib().inflateSync(compressed);
  } catch {
    return undefined;
  }
  const headerEnd = raw.indexOf(0);
  const header = /^([a-z]+) [0-9]+$/.exec(raw.toString("latin1", 0, Math.max(headerEnd, 0)));
  if (headerEnd < 0 || !header) return undefined;
  return { oid, type: header[1]!, body: raw.subarray(headerEnd + 1) };
}

/**
 * Writes an object as git writes a loose one (`<type> <size>\0<body>`, zlib-compressed, read-only, at
 * objects/xx/yyyy…), through a temporary file renamed into place; an object already there loose is left
 * as it is. Returns its id.
 */
export async function writeLooseObject(gitDir: string, type: string, body: Buffer, algorithm: "sha1" | "sha256" = "sha1"): Promise<string> {
  const header = Buffer.from(`${type} ${body.length}\0`);
  const oid = createHash(algorithm).update(header).update(body).digest("hex");
  const dir = join(gitDir, "objects", oid.slice(0, 2));
  const file = join(dir, oid.slice(2));
  if (await stat(file).catch(() => undefined)) return oid;
  await mkdir(dir, { recursive: true });
  const temp = join(dir, `tmp_obj_${randomBytes(6).toString("hex")}`);
  try {
    // core.looseCompression's default: git favours speed for loose objects (packing compresses them again).
    await writeFile(temp, zlib().deflateSync(Buffer.concat([header, body]), { level: 1 }), { mode: 0o444, flag: "wx" });
    await rename(temp, file);
  } catch (error) {
    // Only a failed write leaves the temporary behind (once renamed it is gone: removing it again was one
    // more file-system call for every object written).
    await rm(temp, { force: true });
    throw error;
  }
  return oid;
}
