import { randomBytes } from "node:crypto";
import { appendFileSync, mkdirSync, unlinkSync } from "node:fs";
import { lstat, readdir, readFile, rm } from "node:fs/promises";
import { basename, dirname, join, sep } from "node:path";
import { isProcessAlive } from "./process-alive.ts";

/**
 * The agent's own temporary files in a synced folder (content prepared beside its destination, so the
 * final rename stays on one file system), known by their exact paths and never by a name pattern: a
 * person's `.cloudbridge-tmp-notes.txt` or `.draft.cloudbridge-7.tmp` is a file like any other, synced and
 * never deleted. Each process appends every temporary path it creates in a folder to its own journal,
 * `.git/cloudbridge/temporaries/<pid>-<random>`, before creating it, and removes the journal once none is
 * left; so after a crash exactly the files that process made are found and removed, and while a process
 * runs the others (and its own scans) know to leave its temporaries alone.
 */
const TEMP_PREFIX = ".cloudbridge-tmp-";
const JOURNALS = "temporaries";

interface Folder {
  root: string;
  journal: string;
  live: Set<string>;
}

const folders = new Map<string, Folder>();
const journalName = `${process.pid}-${randomBytes(6).toString("hex")}`;

/** Temporaries made under `root` (outside its .git) are journaled in `stateDir`. */
export function registerFolder(root: string, stateDir: string): void {
  if (!folders.has(root)) folders.set(root, { root, journal: join(stateDir, JOURNALS, journalName), live: new Set() });
}

function folderOf(path: string): Folder | undefined {
  for (const folder of folders.values()) {
    if (path.startsWith(folder.root + sep) && !path.startsWith(join(folder.root, ".git") + sep)) return folder;
  }
  return undefined;
}

/** A new temporary path beside `path` (not created yet: create it with O_EXCL), journaled when inside a synced folder. */
export function tempPathFor(path: string): string {
  const temp = join(dirname(path), `${TEMP_PREFIX}${randomBytes(12).toString("hex")}-${basename(path).slice(0, 40)}`);
  const folder = folderOf(temp);
  if (folder) {
    mkdirSync(dirname(folder.journal), { recursive: true });
    appendFileSync(folder.journal, `${temp.slice(folder.root.length + 1)}\0`);
    folder.live.add(temp);
  }
  return temp;
}

/** The temporary is gone (renamed into place, or removed): once none is left, the journal goes too. */
export function settled(temp: string): void {
  const folder = folderOf(temp);
  if (!folder?.live.delete(temp) || folder.live.size > 0) return;
  try {
    unlinkSync(folder.journal);
  } catch {
    // never written, or removed already
  }
}

/**
 * Every temporary path (folder-relative) some cloudbridge process has journaled in this folder and not
 * finished: what a scan must not take for a person's file.
 */
export async function journaledTemporaries(root: string, stateDir: string): Promise<Set<string>> {
  const paths = new Set<string>();
  for (const folder of folders.values()) {
    if (folder.root === root) for (const temp of folder.live) paths.add(temp.slice(root.length + 1));
  }
  const dir = join(stateDir, JOURNALS);
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    if (name === journalName) continue;
    for (const path of await readJournal(join(dir, name))) paths.add(path);
  }
  return paths;
}

/** Removes what processes no longer running left behind (killed mid-write), and their journals. Returns the paths removed. */
export async function removeLeftoverTemporaries(root: string, stateDir: string): Promise<string[]> {
  const dir = join(stateDir, JOURNALS);
  const removed: string[] = [];
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    const pid = Number.parseInt(name, 10);
    if (name === journalName || !Number.isInteger(pid) || isProcessAlive(pid)) continue;
    const journal = join(dir, name);
    for (const path of await readJournal(journal)) {
      if (!(await lstat(join(root, path)).catch(() => undefined))?.isFile()) continue;
      await rm(join(root, path), { force: true });
      removed.push(path);
    }
    await rm(journal, { force: true });
  }
  return removed;
}

async function readJournal(file: string): Promise<string[]> {
  const text = await readFile(file, "utf8").catch(() => "");
  // Only paths this agent can have made: a temporary name in a folder of the synced folder.
  return text.split("\0").filter((path) => path !== "" && basename(path).startsWith(TEMP_PREFIX) && !path.split("/").includes(".."));
}
