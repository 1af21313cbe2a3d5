import { LocalGitError } from "./errors.ts";
import { joinNul, runGit, startGit, type GitOptions } from "./run.ts";
import { encodePath } from "./tree.ts";

/** Objects of a local repository: which are present, writing blobs, reading blobs in batches. */

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
 * Reads many blobs, one at a time as they are needed, through one `git cat-file --batch` process. Output
 * chunks are kept as they arrive and joined once per object (never re-copied per chunk), so a large blob
 * costs time linear in its size.
 */
export class BlobReader {
  private readonly child;
  private chunks: Buffer[] = [];
  private buffered = 0;
  /** The object being read: header parsed, waiting for `size` bytes of body and a newline. */
  private pending: { size: number } | undefined;
  private waiting: Array<{ resolve: (b: Buffer | undefined) => void; reject: (e: Error) => void }> = [];
  private closed = false;

  constructor(gitDir: string) {
    this.child = startGit(["cat-file", "--batch"], { gitDir });
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

  read(oid: string): Promise<Buffer | undefined> {
    if (this.closed) return Promise.reject(new LocalGitError("git-failed", "git cat-file --batch is closed"));
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
        if (header.endsWith(" missing")) {
          this.waiting.shift()!.resolve(undefined);
          continue;
        }
        this.pending = { size: Number(header.split(" ")[2]) };
      }
      if (this.buffered < this.pending.size + 1) return;
      const body = this.take(this.pending.size + 1).subarray(0, this.pending.size);
      this.pending = undefined;
      this.waiting.shift()!.resolve(body);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await new Promise<void>((resolve) => {
      this.child.once("close", () => resolve());
      this.child.stdin.end();
    });
  }
}
