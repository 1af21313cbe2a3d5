import { commitParents, type BlobReader, type Git } from "../../localgit/index.ts";

/**
 * Modification times across machines. git keeps none, so each commit the agent makes says, for every file
 * it adds or changes, the file's modification time here, in its message, one trailer line per file:
 *
 *     Cloudbridge-Mtime: 1764374400123 "notes/a.txt"
 *
 * (milliseconds since 1970, then the path as a JSON string, so a name with a newline stays one line).
 * A machine that writes a file from the shared history gives it the time of the newest commit that names
 * it; a file changed by a commit without the line (plain git, a merge that made a variant) gets the time
 * of writing, as before. Writer and parser side by side, as git-annex keeps its logs.
 */
const TRAILER = "Cloudbridge-Mtime: ";
/** Beyond this many files in one commit (an import of a huge folder) the message says no times. */
const MAX_TRAILERS = 20_000;
/** At most this many commits in a line are read one by one before `git log` is asked instead. */
const LINE_READ = 16;

export function mtimeTrailers(files: ReadonlyArray<[path: string, mtimeMs: number]>): string {
  if (files.length === 0 || files.length > MAX_TRAILERS) return "";
  return `\n\n${files.map(([path, mtimeMs]) => `${TRAILER}${Math.floor(mtimeMs)} ${JSON.stringify(path)}`).join("\n")}\n`;
}

/** path → mtime from one commit message (lines that do not parse are skipped). */
export function parseMtimeTrailers(message: string, into: Map<string, number> = new Map()): Map<string, number> {
  for (const line of message.split("\n")) {
    if (!line.startsWith(TRAILER)) continue;
    const rest = line.slice(TRAILER.length);
    const space = rest.indexOf(" ");
    const ms = Number(rest.slice(0, space));
    let path: unknown;
    try {
      path = JSON.parse(rest.slice(space + 1));
    } catch {
      continue;
    }
    if (typeof path === "string" && Number.isSafeInteger(ms) && ms >= 0 && !into.has(path)) into.set(path, ms);
  }
  return into;
}

/**
 * The modification time of each file named by the commits from `from` (exclusive) to `to`, the newest commit
 * winning. A short line of commits (the usual change from another machine: one) is read through `reader`,
 * without starting git; anything else (merges, a long history) is listed by `git log`.
 */
export async function mtimesBetween(git: Git, from: string | undefined, to: string, reader?: BlobReader): Promise<Map<string, number>> {
  if (reader && from) {
    const messages: string[] = [];
    let at = to;
    for (let i = 0; i < LINE_READ && at !== from; i++) {
      const object = await reader.readObject(at);
      if (object?.type !== "commit") break;
      const end = object.body.indexOf("\n\n");
      const parents = commitParents(object.body) ?? [];
      messages.push(end < 0 ? "" : object.body.toString("utf8", end + 2));
      if (parents.length !== 1) break;
      at = parents[0]!;
    }
    if (at === from) {
      const times = new Map<string, number>();
      for (const message of messages) if (message.includes(TRAILER)) parseMtimeTrailers(message, times);
      return times;
    }
  }
  const { stdout } = await git.run(["log", "-z", "--format=%B", from ? `${from}..${to}` : to]);
  const times = new Map<string, number>();
  for (const message of stdout.toString().split("\0")) if (message.includes(TRAILER)) parseMtimeTrailers(message, times);
  return times;
}
