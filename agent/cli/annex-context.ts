import { realpath } from "node:fs/promises";
import { basename, dirname, join, relative, resolve, sep } from "node:path";
import type { MultipartStore, ObjectStore, S3ObjectStore } from "../../objectstore/index.ts";
import { assertAnnexKey } from "../../protocol/index.ts";
import { annexedFiles, type Annex } from "../../annex/index.ts";
import { findFolder, findRepository, FolderError, isFolder, openFolder, type Folder } from "../folder/index.ts";
import { forTerminal } from "../terminal-text.ts";
import { CliError } from "./errors.ts";
import { transferProgress } from "./transfer-progress.ts";

/**
 * What the annex commands (get, drop, whereis, fsck) need: the folder around the current directory,
 * opened as every command opens it, with an Annex whose location-log changes are pushed to the bucket's
 * git-annex branch right after each transfer.
 */
export interface AnnexContext {
  folder: Folder;
  annex: Annex;
  gitDir: string;
  workTree: string;
  /** Fetches the shared git-annex branch and merges it into the local one. */
  receive(): Promise<void>;
}

export interface OpenOptions {
  cwd?: string;
  /**
   * The paths the person typed (relative to `cwd`): when `cwd` is in no folder, the folder around the first
   * of them is the one meant (`cloudbridge get ~/Sync/photo.jpg` run from anywhere), as versions and restore
   * find theirs.
   */
  paths?: readonly string[];
  /** Wraps the bucket store (tests inject delays and faults this way). */
  wrapStore?: (store: S3ObjectStore) => ObjectStore & MultipartStore;
}

export async function openAnnexContext(options: OpenOptions = {}): Promise<AnnexContext> {
  const cwd = options.cwd ?? process.cwd();
  const { gitDir, workTree } = await discoverRepository(cwd, options.paths ?? []);
  // One command, then the process exits: the bucket through the light S3 client when the settings are plain
  // (the AWS SDK's S3 module, ~30 modules and ~15 MiB, loaded only for a multipart upload), as a sync with no
  // daemon reaches it.
  const folder = await openFolder(workTree, {
    gitDir,
    publishAnnexBranch: true,
    oneCommand: true,
    ...(options.wrapStore ? { wrapStore: options.wrapStore } : {}),
  });
  return { folder, annex: folder.annex, gitDir, workTree, receive: () => folder.receiveAnnexBranch() };
}

async function discoverRepository(cwd: string, paths: readonly string[]): Promise<{ gitDir: string; workTree: string }> {
  const here = await findRepository(cwd);
  if (here && (await isFolder(here.workTree))) return here;
  const there = paths[0] === undefined ? undefined : await findRepository(await folderOf(resolve(cwd, paths[0])));
  if (there && (await isFolder(there.workTree))) return there;
  // A git repository that is no folder: opening it says what it lacks.
  if (here) return here;
  throw new FolderError(
    "not-a-folder",
    `${cwd} is not inside a cloudbridge folder${paths[0] === undefined ? "" : `, nor is ${forTerminal(paths[0])}`}: ` +
      `run this in the folder, name files inside it, or name the folder with --dir (paths are then relative to it).`,
  );
}

/** The cloudbridge folder at or around `path` (which may not exist: a file deleted here), as every command finds it. */
async function folderOf(path: string): Promise<string> {
  return findFolder(await realParent(path));
}

/** One annexed file (or a bare key given with --key) a command works on. */
export interface Target {
  key: string;
  /** Relative to the work tree; undefined for --key. */
  path?: string;
  mode?: string;
}

/**
 * The annexed files among the paths the user typed (relative to the current directory; none = the whole
 * work tree), plus any keys given with --key. A path that names no annexed file is an error.
 */
export async function resolveTargets(
  context: AnnexContext,
  paths: readonly string[],
  keys: readonly string[] = [],
  cwd = process.cwd(),
): Promise<Target[]> {
  const targets: Target[] = keys.map((key) => ({ key: assertAnnexKey(key) }));
  if (paths.length > 0 || keys.length === 0) {
    const files = await annexedFiles(context.gitDir, context.workTree, await pathSpecs(context, paths, cwd));
    if (paths.length > 0 && files.length === 0) {
      throw new CliError(
        "no-match",
        `No annexed file matches ${paths.map((p) => JSON.stringify(p)).join(", ")} (only files committed as git-annex pointers are).`,
      );
    }
    targets.push(...files.map((f) => ({ key: f.key, path: f.path, mode: f.mode })));
  }
  return targets;
}

/**
 * The paths a person typed (relative to `cwd`), absolute, for git to match against the folder's files; a
 * path outside the folder is refused here, naming it, rather than by git with an error about repositories.
 * Compared through symlinks, as git compares them (a folder reached through a link is still the folder).
 */
export async function pathSpecs(context: AnnexContext, paths: readonly string[], cwd: string): Promise<string[]> {
  const top = await realpath(context.workTree);
  return Promise.all(
    paths.map(async (typed) => {
      const spec = resolve(cwd, typed);
      const inside = relative(top, await realParent(spec));
      if (inside === ".." || inside.startsWith(`..${sep}`))
        throw new FolderError(
          "not-a-folder",
          `${forTerminal(typed)} is outside the folder ${context.workTree}: name files inside it, or run the command in the folder that holds them (or with --dir).`,
        );
      return spec;
    }),
  );
}

/** `path` with its longest existing part resolved through symlinks (the rest may not exist: a deleted file). */
async function realParent(path: string): Promise<string> {
  try {
    return await realpath(path);
  } catch {
    const up = dirname(path);
    return up === path ? path : join(await realParent(up), basename(path));
  }
}

export function workTreePath(context: AnnexContext, path: string): string {
  return join(context.workTree, path);
}

/** One result line for --json (git-annex's --json shape: one object per line). */
export function jsonLine(command: string, target: Target, fields: Record<string, unknown>): string {
  return `${JSON.stringify({ command, ...(target.path ? { file: target.path } : {}), key: target.key, ...fields })}\n`;
}

/** `--dir`: the annex commands work on the folder around a directory (default: the current one), paths relative to it, as `git -C`. */
export function commandDir(dir: string | undefined): string {
  return dir ? resolve(dir) : process.cwd();
}

/** `--from`: the only place content can be dropped from or checked in, besides here, is the cloud. */
export function fromCloud(from: string | undefined): boolean {
  if (from !== undefined && from !== "cloud")
    throw new CliError("invalid-option", `--from ${JSON.stringify(from)}: the only remote is "cloud".`);
  return from === "cloud";
}

/** Targets by key: a key several files share is transferred once. */
export function byKey(targets: readonly Target[]): Map<string, Target[]> {
  const map = new Map<string, Target[]>();
  for (const target of targets) map.set(target.key, [...(map.get(target.key) ?? []), target]);
  return map;
}

/**
 * What a batch transfer (get, copy) shows: a progress bar per file, then one line (or JSON object) per
 * file that names the key, and the count of failures.
 */
export function reportTransfers<R>(
  command: string,
  keys: Map<string, Target[]>,
  json: boolean,
  ok: (result: R) => { fields: Record<string, unknown>; text: string },
) {
  const progress = transferProgress({ json });
  let failed = 0;
  return {
    onFileProgress: (item: { key: string; fileName?: string }, done: number, total: number) =>
      progress.track(item.fileName ?? item.key)(done, total),
    onFileDone: (item: { key: string }, outcome: { result?: unknown; error?: unknown }) => {
      for (const target of keys.get(item.key) ?? []) {
        const label = forTerminal(target.path ?? target.key);
        if (outcome.error) {
          failed++;
          const message = (outcome.error as Error).message;
          if (json) process.stdout.write(jsonLine(command, target, { success: false, error: message }));
          progress.finish(label, `${command} ${label}: failed: ${forTerminal(message)}`);
        } else {
          const { fields, text } = ok(outcome.result as R);
          if (json) process.stdout.write(jsonLine(command, target, { success: true, ...fields }));
          progress.finish(label, `${command} ${label}${text}`);
        }
      }
    },
    failed: () => failed,
    stop: () => progress.stop(),
  };
}
