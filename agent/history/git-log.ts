import { splitNul } from "../../localgit/index.ts";

/**
 * Reading `git log` of a folder's history, for every view of it (`log`, `versions`, recent changes on the
 * page): NUL-delimited fields, so no subject or file name can forge an entry.
 */
/** Six fields per commit, NUL-separated: git cuts every field at a NUL, so none can hold a separator. */
export const LOG_FORMAT = "%H%x00%P%x00%an%x00%ae%x00%aI%x00%s";
const OID = /^[0-9a-f]{40}([0-9a-f]{24})?$/;
/** A `--name-status` letter (with a similarity score for renames and copies); never an object id. */
const FILE_STATUS = /^[A-Z][0-9]*$/;

export interface LogEntry {
  commit: string;
  merge: boolean;
  author: string;
  agent: string;
  date: string;
  subject: string;
  files: Array<{ status: string; path: string }>;
}

/**
 * `git log -z --format=LOG_FORMAT [--name-status]`: each commit is its six fields, then (with
 * --name-status) a newline and its files as status, path (two paths for a rename or copy), all
 * NUL-terminated. Read field by field, so neither a subject nor a file name can start a record.
 */
export function parseLog(stdout: Buffer): LogEntry[] {
  const fields = splitNul(stdout);
  const entries: LogEntry[] = [];
  let i = 0;
  while (i < fields.length) {
    const commit = fields[i]!.replace(/^\n/, "");
    if (!OID.test(commit) || i + 6 > fields.length) {
      throw new Error(`git log printed something unexpected at ${JSON.stringify(commit.slice(0, 60))}`);
    }
    const [parents, author, email, date, subject] = fields.slice(i + 1, i + 6) as [string, string, string, string, string];
    i += 6;
    const files: LogEntry["files"] = [];
    while (i < fields.length && FILE_STATUS.test(fields[i]!.replace(/^\n/, ""))) {
      const status = fields[i]!.replace(/^\n/, "");
      const count = /^[RC]/.test(status) ? 2 : 1;
      files.push({ status, path: fields.slice(i + 1, i + 1 + count).join(" → ") });
      i += 1 + count;
    }
    const agent = email.replace(/@cloudbridge$/, "");
    entries.push({ commit, merge: parents.split(" ").length > 1, author, agent, date, subject, files });
  }
  return entries;
}
