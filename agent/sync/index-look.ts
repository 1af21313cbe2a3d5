import { lstatSync } from "node:fs";
import { stat } from "node:fs/promises";
import { join } from "node:path";
import { decodePath, Git, unrepresentableNameReason } from "../../localgit/index.ts";
import { FILTER_DRIVER } from "../git-filter/register.ts";
import { fileSystemNow } from "./fs-clock.ts";
import { isGitDirName } from "./safe-paths.ts";

/**
 * git's own look at the folder, for a process that syncs once and exits (`cloudbridge sync` with no
 * daemon): git compares every file's stat fields with its index in C, on several threads (`diff-files`),
 * and lists what its index does not hold (`ls-files --others`), in a fraction of the time a look at every
 * file from Node takes. The scan then looks only at the paths git names (scanner.ts, `paths`), and hashes
 * the tracked ones again even where the stat cache's fields match (`rehash`).
 *
 * Why that misses nothing: the index holds the tree of the stat cache's commit (local-repo.ts checks it is
 * the index the agent itself left before asking), and git calls an entry unchanged only when the file's
 * stat fields are those git recorded when it last found the file's content to be that entry's blob. git
 * records them only after comparing the content, compares more fields than the stat cache (the ctime, so
 * a write that puts the mtime back is seen, and the owner and the device), and treats an entry written in
 * the same second as the index as changed (racy git). Entries the agent writes without stat fields
 * (`update-index --index-info`, after a commit or a checkout) are named until the next refresh
 * (`refreshIndexStat`).
 *
 * Every look runs with git's stat checks at their strictest, whatever the user's configuration says, and
 * with the folder's clean filter off: a racily clean entry is compared as stored, without starting a Node
 * process (an annexed one then compares unequal and is named: safe). The refresh does not run the filter
 * either: it would read and hash every annexed file's whole content to record its stat fields, so annexed
 * files stay named, and the scan trusts the stat cache for them (an `lstat` each).
 */
const INDEX_LOOK_CONFIG: ReadonlyArray<readonly [string, string]> = [
  [`filter.${FILTER_DRIVER}.process`, ""],
  ["core.checkStat", "default"],
  ["core.trustctime", "true"],
  ["core.ignoreStat", "false"],
  ["core.fsmonitor", "false"],
];

/** What git named. */
export interface IndexLook {
  /** The paths to scan: tracked files whose stat fields differ from the index's (or that are gone), and what is untracked. */
  paths: string[];
  /** Of them, the tracked ones (what a refresh of the index's stat fields may settle). */
  tracked: string[];
}

/** git's look, with the file system's time before it began and the index it looked at. */
export interface TimedLook extends IndexLook {
  before: number;
  /** The index file's identity (`indexIdentity`): the same before and after the look, else undefined (not to be trusted). */
  index: string | undefined;
}

/** git's index file: its identity changes whenever anything rewrites it (git writes a new file and renames it). */
export async function indexIdentity(gitDir: string): Promise<string | undefined> {
  const stats = await stat(join(gitDir, "index")).catch(() => undefined);
  return stats ? `${stats.ino}:${stats.mtimeMs}:${stats.ctimeMs}:${stats.size}` : undefined;
}

/** git's look at the work tree `root` (`lookThroughIndex`), timed (`stateDir`: the agent's, for the file system's clock). */
export async function timedLook(git: Git, root: string, stateDir: string): Promise<TimedLook> {
  return (await beginTimedLook(git, root, stateDir)).look;
}

/** The same, answered once git has started: the caller goes on with its own work while git looks. */
async function beginTimedLook(git: Git, root: string, stateDir: string): Promise<{ look: Promise<TimedLook> }> {
  const before = await fileSystemNow(stateDir);
  const index = await indexIdentity(git.gitDir);
  const look = lookThroughIndex(git, root).then(async (paths) => ({
    ...paths,
    before,
    index: index === (await indexIdentity(git.gitDir)) ? index : undefined,
  }));
  return { look };
}

/**
 * git's look at a folder started before the folder is opened, by a command that will open it to sync once
 * (`cloudbridge sync` once it knows no daemon serves the folder): answered as soon as git has started, so
 * that git compares the files while this process loads the agent and reads the folder's settings and stat
 * cache, which take as long. The folder takes the look (LocalRepo's `look`) only if the index it looked at
 * proves to be the one the agent left; it never rejects (a look that failed is looked again, or the scan
 * looks at every file).
 */
export async function startLook(root: string, stateDir: string): Promise<{ look: Promise<TimedLook | undefined> }> {
  try {
    const { look } = await beginTimedLook(new Git(join(root, ".git")), root, stateDir);
    return { look: look.catch(() => undefined) };
  } catch {
    return { look: Promise.resolve(undefined) };
  }
}

/** `git -c key=value` for each pair, as the environment (GIT_CONFIG_COUNT, replacing any such pairs the process has). */
export function configEnv(pairs: ReadonlyArray<readonly [string, string]>): Record<string, string> {
  const env: Record<string, string> = { GIT_CONFIG_COUNT: String(pairs.length) };
  pairs.forEach(([key, value], i) => {
    env[`GIT_CONFIG_KEY_${i}`] = key;
    env[`GIT_CONFIG_VALUE_${i}`] = value;
  });
  return env;
}

/** git's look at the work tree `root` against its index (both commands at once: neither writes anything). */
export async function lookThroughIndex(git: Git, root: string): Promise<IndexLook> {
  const env = { ...configEnv(INDEX_LOOK_CONFIG), GIT_WORK_TREE: root };
  const [changed, untracked] = await Promise.all([
    git.run(["diff-files", "--name-only", "-z"], { env }),
    // Every untracked name, the folder's own ignore rules applied by the scan, not git's; a folder holding
    // nothing tracked as one name (`--directory`), which the scan walks.
    git.run(["ls-files", "--others", "--directory", "-z"], { env }),
  ]);
  const tracked = nulRecords(changed.stdout).map(decodePath);
  const paths = new Set(tracked);
  for (const record of nulRecords(untracked.stdout)) paths.add(untrackedRoot(decodePath(record).replace(/\/$/, "")));
  return { paths: [...paths], tracked };
}

/**
 * Where the scan looks for an untracked name git listed: the name itself, or the folder above it when
 * only a walk of that folder reports it rightly (a name that is not UTF-8 or holds a control character,
 * a `.git` below the top: the walk reads such names exactly and says why they are refused).
 */
function untrackedRoot(path: string): string {
  const parts = path.split("/");
  const git = parts.findIndex(isGitDirName);
  if (git >= 0) return parts.slice(0, git).join("/");
  if (unrepresentableNameReason(path)) return parts.slice(0, -1).join("/");
  return path;
}

/**
 * Has git record the stat fields of the entries whose files hold their blob (`update-index --refresh`),
 * so the next look names only what changed: every file compared as stored, with no process per file (an
 * annexed file, whose entry is its pointer, compares unequal and keeps no stat fields). `indexConfig`: the
 * settings the agent writes its index with (a split index).
 *
 * Then any of `paths` (every entry the refresh may have recorded: what git named, what was just
 * committed) whose mtime or ctime is within `racyWindowMs` of `before` (the file system's time before git
 * looked) or later is put back without stat fields: a file written while git read it could otherwise keep
 * stat fields git took before the write. A file whose ctime was older than that after the refresh was not
 * written since git looked at it, and any later write stamps a ctime git did not record.
 */
export async function refreshIndexStat(
  git: Git,
  root: string,
  indexConfig: ReadonlyArray<readonly [string, string]>,
  refresh: { paths: Iterable<string>; before: number; racyWindowMs: number },
): Promise<void> {
  const env = { ...configEnv([...indexConfig, ...INDEX_LOOK_CONFIG]), GIT_WORK_TREE: root };
  // Exit code 1: some entries still differ (changed since, annexed); those keep no stat fields.
  // `--split-index` again: the refreshed entries go into a new shared index, not into the small file
  // every git command reads beside it (which would then hold as many entries as the shared one).
  await git.run(["update-index", "-q", "--refresh", "--split-index"], { env, okCodes: [1] });
  const young = new Set<string>();
  for (const path of refresh.paths) {
    const stats = lstatSync(`${root}/${path}`, { throwIfNoEntry: false });
    if (stats && Math.max(stats.mtimeMs, stats.ctimeMs) > refresh.before - refresh.racyWindowMs) young.add(path);
  }
  await putBack(git, env, young);
}

/**
 * Entries git's look would skip whatever their file holds (`update-index --assume-unchanged`,
 * `--skip-worktree`, set by hand: `read-tree --reset` keeps them) are put back without them, and without
 * stat fields. Called whenever the agent rebuilds the index, which it does whenever another hand wrote it.
 */
export async function clearHiddenEntries(git: Git, indexConfig: ReadonlyArray<readonly [string, string]>): Promise<void> {
  const env = configEnv(indexConfig);
  const { stdout } = await git.run(["ls-files", "-v", "-z"], { env });
  // The tag before each path: lowercase when assume-unchanged, S when skip-worktree.
  const hidden = new Set(
    nulRecords(stdout)
      .filter((record) => record[0] === 0x53 || (record[0]! >= 0x61 && record[0]! <= 0x7a))
      .map((record) => decodePath(record.subarray(2))),
  );
  await putBack(git, env, hidden);
}

/** The index entries of `paths` written again as they are, which leaves them without stat fields or flags. */
async function putBack(git: Git, env: Record<string, string>, paths: ReadonlySet<string>): Promise<void> {
  if (paths.size === 0) return;
  // `ls-files --stage` prints each entry as `--index-info` reads it; asked for these paths only (the whole
  // index is a line per file of the folder), as literal names (no glob, no `:(magic)`), a batch at a time
  // so that a command line stays short. A name matches the entries below it too: only exact ones are kept.
  const lines: Buffer[] = [];
  for (const batch of batches([...paths])) {
    const { stdout } = await git.run(["ls-files", "--stage", "-z", "--", ...batch], { env: { ...env, GIT_LITERAL_PATHSPECS: "1" } });
    for (const record of nulRecords(stdout)) if (paths.has(decodePath(record.subarray(record.indexOf(9) + 1)))) lines.push(record);
  }
  if (lines.length === 0) return;
  await git.run(["update-index", "-z", "--index-info"], { env, input: Buffer.concat(lines.flatMap((line) => [line, Buffer.from([0])])) });
}

/** Bytes of paths per command line (Linux allows 128 KiB per argument and ~2 MiB in all). */
const BATCH_BYTES = 64 * 1024;

function* batches(paths: readonly string[]): Generator<string[]> {
  let batch: string[] = [];
  let bytes = 0;
  for (const path of paths) {
    if (batch.length > 0 && bytes + path.length > BATCH_BYTES) {
      yield batch;
      batch = [];
      bytes = 0;
    }
    batch.push(path);
    bytes += path.length + 1;
  }
  if (batch.length > 0) yield batch;
}

function nulRecords(output: Buffer): Buffer[] {
  const records: Buffer[] = [];
  for (let start = 0, end = output.indexOf(0); end >= 0; start = end + 1, end = output.indexOf(0, start))
    records.push(output.subarray(start, end));
  return records;
}
