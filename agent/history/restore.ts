import { lstat, mkdir, rename, rm } from "node:fs/promises";
import { dirname, join } from "node:path";
import { parsePointer, settled, tempPathFor, type Annex } from "../../annex/index.ts";
import type { TreeEntry } from "../../localgit/index.ts";
import { MAIN_REF, type LocalRepo } from "../sync/local-repo.ts";
import { writeFileAtomic } from "../sync/atomic-file.ts";
import { unsafePathReason } from "../sync/safe-paths.ts";
import { HistoryError } from "./errors.ts";
import { commitAt, entriesAt, fileVersions, treePath } from "./versions.ts";

/**
 * Getting an older version back, as a new change: the files are written into the folder as they were
 * (annexed content fetched from the cloud when it is not here), and the next round commits them on top of
 * history like any edit. Nothing in history is rewritten or lost: the version replaced is a version too.
 *
 * What is restored:
 * - a file with `version`: that version (1 = the newest change); with `at`: the file as it was then; with
 *   neither: the version before the current one, or for a deleted file its last content;
 * - a folder with `at`: every file it held then (files added since are left alone); with neither: every
 *   file deleted from it, at its last content.
 */
export interface RestoreTarget {
  /** Anything `git log --before` reads: an ISO date, "yesterday 18:00", "2 hours ago". */
  at?: string;
  version?: number;
}

export interface RestoreResult {
  /** Paths written (relative to the folder), each with the commit its content came from. */
  restored: Array<{ path: string; commit: string }>;
}

export async function restorePath(repo: LocalRepo, annex: Annex, path: string, target: RestoreTarget = {}): Promise<RestoreResult> {
  const name = treePath(path);
  const plan = await planRestore(repo, name, target);
  if (plan.length === 0)
    throw new HistoryError(
      "no-such-version",
      `${name || "the folder"} has nothing to restore${describe(target)}: \`cloudbridge versions ${name}\` lists what there is.`,
    );
  for (const { path: p, entry } of plan) {
    const reason = unsafePathReason(p);
    if (reason) throw new HistoryError("cannot-restore", `${p} cannot be restored here: ${reason}. Nothing was written.`);
    if (entry.mode === "160000" || entry.mode === "120000")
      throw new HistoryError(
        "cannot-restore",
        `${p} is a ${entry.mode === "120000" ? "symlink" : "submodule"}; restore only restores files. Nothing was written.`,
      );
  }
  // Content first (it may take a while and may fail), then the files, under the folder lock.
  const contents = new Map<string, { blob?: Buffer; key?: string }>();
  const missing: string[] = [];
  for (const { path: p, entry } of plan) {
    const blob = (await repo.git.run(["cat-file", "blob", entry.oid])).stdout;
    const key = blob.length < 1024 ? parsePointer(blob) : undefined;
    contents.set(p, key ? { key } : { blob });
    if (key && !(await annex.local.has(key))) missing.push(key);
  }
  if (missing.length > 0) {
    const got = await annex.get([...new Set(missing)].map((key) => ({ key })));
    const lacking = missing.filter((key) => !got.has(key));
    if (lacking.length > 0)
      throw new HistoryError(
        "cannot-restore",
        `the content of ${lacking.length} annexed file(s) could not be downloaded (${lacking[0]}); nothing was written.`,
      );
  }
  await repo.lock.hold(async () => {
    for (const { path: p, entry } of plan) {
      const abs = join(repo.root, p);
      await assertWritable(repo.root, p);
      await mkdir(dirname(abs), { recursive: true });
      const mode = entry.mode === "100755" ? 0o755 : 0o644;
      const { blob, key } = contents.get(p)!;
      if (blob) {
        await writeFileAtomic(abs, blob, { mode });
        continue;
      }
      const temp = tempPathFor(abs);
      try {
        if (!(await annex.local.copyTo(key!, temp, mode)))
          throw new HistoryError("cannot-restore", `the content of ${p} (${key}) is not here.`);
        await rename(temp, abs);
      } catch (error) {
        await rm(temp, { force: true });
        throw error;
      } finally {
        settled(temp);
      }
    }
  });
  return { restored: plan.map(({ path: p, commit }) => ({ path: p, commit })) };
}

interface PlannedFile {
  path: string;
  entry: TreeEntry;
  commit: string;
}

async function planRestore(repo: LocalRepo, name: string, target: RestoreTarget): Promise<PlannedFile[]> {
  const git = repo.git;
  if (target.at !== undefined) {
    const commit = await commitAt(git, target.at);
    if (!commit) throw new HistoryError("no-such-version", `the folder has no history at or before ${JSON.stringify(target.at)}.`);
    return [...(await entriesAt(git, commit, name))].map(([path, entry]) => ({ path, entry, commit }));
  }
  const versions = await fileVersions(git, name);
  // A folder's path has commits too, but never a blob of its own.
  if (name !== "" && versions.some((v) => !v.deleted)) {
    let chosen;
    if (target.version !== undefined) {
      chosen = versions.find((v) => v.version === target.version);
      if (!chosen)
        throw new HistoryError(
          "no-such-version",
          `${name} has ${versions.length} version(s), not ${target.version}: \`cloudbridge versions ${name}\` lists them.`,
        );
      if (chosen.deleted)
        throw new HistoryError("no-such-version", `version ${target.version} of ${name} is its deletion; pick a version with content.`);
    } else {
      const current = versions[0]!;
      chosen = current.deleted ? versions.find((v) => !v.deleted) : versions.slice(1).find((v) => !v.deleted);
      if (!chosen) throw new HistoryError("no-such-version", `${name} has no earlier version.`);
    }
    return [{ path: name, entry: { mode: chosen.mode!, oid: chosen.oid! }, commit: chosen.commit }];
  }
  if (target.version !== undefined)
    throw new HistoryError(
      "no-such-version",
      versions.length === 0 && name !== ""
        ? `${name} has no history in this folder (is the name right?): \`cloudbridge versions\` lists a file's versions.`
        : `${name || "the folder"} is a folder: versions are per file; use --at TIME for a folder.`,
    );
  // A folder: every file deleted from it, at its last content.
  const { stdout } = await git.run(["log", "-z", "--format=", "--name-only", "--diff-filter=D", MAIN_REF, "--", ...(name ? [name] : [])], {
    okCodes: [128],
  });
  const present = await git.lsTree(MAIN_REF);
  const plan: PlannedFile[] = [];
  for (const path of new Set(
    stdout
      .toString("utf8")
      .split("\0")
      .map((p) => p.replace(/^\n/, ""))
      .filter(Boolean),
  )) {
    if (present.has(path)) continue;
    const last = (await fileVersions(git, path)).find((v) => !v.deleted);
    if (last) plan.push({ path, entry: { mode: last.mode!, oid: last.oid! }, commit: last.commit });
  }
  return plan;
}

/** Nothing but a directory may stand on the way to `path`, and `path` itself must be a file or absent. */
async function assertWritable(root: string, path: string): Promise<void> {
  const parts = path.split("/");
  for (let i = 1; i <= parts.length; i++) {
    const stats = await lstat(join(root, ...parts.slice(0, i))).catch(() => undefined);
    if (!stats) return;
    const last = i === parts.length;
    if (last ? !stats.isFile() : !stats.isDirectory())
      throw new HistoryError(
        "cannot-restore",
        `${parts.slice(0, i).join("/")} is in the way of ${path} (${last ? "not a file" : "not a folder"}); move it and try again.`,
      );
  }
}

function describe(target: RestoreTarget): string {
  if (target.at !== undefined) return ` at ${target.at}`;
  if (target.version !== undefined) return ` as version ${target.version}`;
  return "";
}
