import { posix } from "node:path";
import { parsePointer } from "../../annex/index.ts";
import type { Git, TreeEntry } from "../../localgit/index.ts";
import { parseAnnexKey } from "../../protocol/index.ts";
import { MAIN_REF } from "../sync/local-repo.ts";
import { LOG_FORMAT, parseLog, type LogEntry } from "./git-log.ts";

/**
 * Every version of a file is a commit in the folder's history: these read them back (who, when, which
 * content) without touching the folder. Version 1 is the newest; a version may be a deletion.
 */
export interface FileVersion {
  /** 1 = the newest change of this path, 2 the one before, … */
  version: number;
  commit: string;
  date: string;
  author: string;
  agent: string;
  deleted: boolean;
  /** The blob (for an annexed file, its pointer) and, for an annexed file, its git-annex key. */
  oid?: string;
  mode?: string;
  key?: string;
  size?: number;
}

export interface DeletedFile {
  path: string;
  commit: string;
  date: string;
  author: string;
  agent: string;
}

/** The changes of `path` (newest first), at most `limit`. */
export async function fileVersions(git: Git, path: string, limit = 100): Promise<FileVersion[]> {
  const { stdout, code } = await git.run(["log", "-z", `--format=${LOG_FORMAT}`, "-n", String(limit), MAIN_REF, "--", path], {
    okCodes: [128],
  });
  if (code !== 0) return [];
  const versions: FileVersion[] = [];
  for (const [i, entry] of parseLog(stdout).entries()) {
    const found = await entryAt(git, entry.commit, path);
    versions.push({
      version: i + 1,
      commit: entry.commit,
      date: entry.date,
      author: entry.author,
      agent: entry.agent,
      deleted: found === undefined,
      ...(found ? await describeBlob(git, found) : {}),
    });
  }
  return versions;
}

/** Files deleted in the last `limit` commits and not back since (newest deletion first). */
export async function deletedFiles(git: Git, limit = 200): Promise<DeletedFile[]> {
  const { stdout, code } = await git.run(
    ["log", "-z", `--format=${LOG_FORMAT}`, "--name-status", "--diff-filter=D", "-n", String(limit), MAIN_REF, "--"],
    {
      okCodes: [128],
    },
  );
  if (code !== 0) return [];
  const present = await git.lsTree(MAIN_REF);
  const seen = new Set<string>();
  const deleted: DeletedFile[] = [];
  for (const entry of parseLog(stdout)) {
    for (const file of entry.files) {
      if (file.status !== "D" || seen.has(file.path) || present.has(file.path)) continue;
      seen.add(file.path);
      deleted.push({ path: file.path, ...who(entry) });
    }
  }
  return deleted;
}

/** The newest commit of main at or before `time` (anything `git log --before` reads: ISO dates, "2 hours ago"). */
export async function commitAt(git: Git, time: string): Promise<string | undefined> {
  const out = (await git.run(["rev-list", "-1", `--before=${time}`, MAIN_REF, "--"], { okCodes: [128] })).stdout.toString().trim();
  return out || undefined;
}

/** The tree entries at `commit` of the file `path`, or of every file under it when it is a folder. */
export async function entriesAt(git: Git, commit: string, path: string): Promise<Map<string, TreeEntry>> {
  const all = await git.lsTree(commit);
  const out = new Map<string, TreeEntry>();
  const file = all.get(path);
  if (file) out.set(path, file);
  else {
    const prefix = path === "" || path === "." ? "" : `${path.replace(/\/+$/, "")}/`;
    for (const [p, e] of all) if (p.startsWith(prefix)) out.set(p, e);
  }
  return out;
}

async function entryAt(git: Git, commit: string, path: string): Promise<TreeEntry | undefined> {
  const { stdout } = await git.run(["ls-tree", "-z", "--full-tree", commit, "--", path]);
  const record = stdout.toString("utf8").split("\0")[0];
  const match = record ? /^(\d+) (\w+) ([0-9a-f]+)\t/.exec(record) : null;
  return match && match[2] === "blob" ? { mode: match[1]!, oid: match[3]! } : undefined;
}

async function describeBlob(git: Git, entry: TreeEntry): Promise<Pick<FileVersion, "oid" | "mode" | "key" | "size">> {
  const size = Number((await git.text(["cat-file", "-s", entry.oid])).trim());
  if (entry.mode !== "120000" && size < 1024) {
    const key = parsePointer((await git.run(["cat-file", "blob", entry.oid])).stdout);
    if (key) {
      const keySize = parseAnnexKey(key).size;
      return { oid: entry.oid, mode: entry.mode, key, ...(keySize !== undefined ? { size: keySize } : {}) };
    }
  }
  return { oid: entry.oid, mode: entry.mode, size };
}

function who(entry: LogEntry): Omit<DeletedFile, "path"> {
  return { commit: entry.commit, date: entry.date, author: entry.author, agent: entry.agent };
}

/** A folder path as git names it ("a/b", no leading "./", no trailing "/"). */
export function treePath(path: string): string {
  const normalized = posix.normalize(path.replaceAll("\\", "/")).replace(/\/+$/, "");
  return normalized === "." ? "" : normalized.replace(/^\.\//, "");
}
