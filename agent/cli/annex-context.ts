import { execFile } from "node:child_process";
import { isAbsolute, join, resolve } from "node:path";
import { promisify } from "node:util";
import type { MultipartStore, ObjectStore } from "../../objectstore/object-store.ts";
import { createS3Client, S3ObjectStore } from "../../objectstore/s3-object-store.ts";
import { BucketLayout } from "../../protocol/layout.ts";
import { assertAgentId } from "../../protocol/names.ts";
import { assertAnnexKey } from "../../protocol/annex-key.ts";
import { Annex } from "../annex/annex.ts";
import { annexedFiles } from "../annex/annexed-files.ts";
import { publishAnnexBranch, receiveAnnexBranch, type AnnexBranchContext } from "../annex/cloud-branch-sync.ts";
import { ensureCloudUuid } from "../annex/cloud-remote.ts";
import { gitText } from "../../gitstore/run-git.ts";
import { registerFolder } from "../sync/temporaries.ts";
import { CliError } from "./errors.ts";

/**
 * What the annex commands (get, drop, whereis, fsck) need: the repository around the current directory,
 * its cloudbridge settings from git config, and an Annex whose location-log changes are pushed to the
 * bucket's git-annex branch right after each transfer.
 */
export interface AnnexContext {
  annex: Annex;
  gitDir: string;
  workTree: string;
  /** Fetches the shared git-annex branch and merges it into the local one. */
  receive(): Promise<void>;
}

export interface OpenOptions {
  cwd?: string;
  /** Wraps the bucket store (tests inject delays and faults this way). */
  wrapStore?: (store: S3ObjectStore) => ObjectStore & MultipartStore;
}

export async function openAnnexContext(options: OpenOptions = {}): Promise<AnnexContext> {
  const cwd = options.cwd ?? process.cwd();
  const { gitDir, workTree } = await discoverRepository(cwd);
  const config = async (name: string) => (await gitText(["config", "--get", name], { gitDir, allowFailure: true })) || undefined;
  const [bucket, repo, uuid, prefix, endpoint, region, cached] = await Promise.all(
    [
      "cloudbridge.bucket",
      "cloudbridge.repo",
      "annex.uuid",
      "cloudbridge.prefix",
      "cloudbridge.endpoint",
      "cloudbridge.region",
      "cloudbridge.cloudUuid",
    ].map(config),
  );
  if (!bucket || !repo || !uuid) {
    throw new CliError(
      `${workTree} is not set up for cloudbridge (cloudbridge.bucket, cloudbridge.repo and annex.uuid must be in its git config): run \`cloudbridge init\` or \`cloudbridge clone\` first.`,
      2,
    );
  }
  const s3 = new S3ObjectStore(bucket, createS3Client({ ...(endpoint ? { endpoint } : {}), ...(region ? { region } : {}) }));
  const store = options.wrapStore ? options.wrapStore(s3) : s3;
  const layout = new BucketLayout(prefix);
  const cloud = { store, layout, repo };
  const cloudUuid = cached ?? (await ensureCloudUuid(cloud));
  // A cache only: another process may hold .git/config this instant.
  if (!cached) await gitText(["config", "cloudbridge.cloudUuid", cloudUuid], { gitDir, allowFailure: true });
  const ctx: AnnexBranchContext = { store, layout, repo, gitDir, agent: assertAgentId(uuid) };
  const annex = new Annex({ gitDir, uuid, cloud, cloudUuid, publish: () => publishAnnexBranch(ctx) });
  // Content put in place (get) or taken back (drop) is prepared beside the file: the daemon must know it.
  registerFolder(workTree, join(gitDir, "cloudbridge"));
  return { annex, gitDir, workTree, receive: () => receiveAnnexBranch(ctx) };
}

async function discoverRepository(cwd: string): Promise<{ gitDir: string; workTree: string }> {
  try {
    const { stdout } = await promisify(execFile)("git", ["rev-parse", "--absolute-git-dir", "--show-toplevel"], { cwd, encoding: "utf8" });
    const [gitDir, workTree] = stdout.trim().split("\n");
    if (!gitDir || !workTree) throw new Error("no work tree");
    return { gitDir, workTree };
  } catch {
    throw new CliError(`${cwd} is not inside a git work tree: run this in a cloudbridge folder.`, 2);
  }
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
    const specs = paths.map((p) => (isAbsolute(p) ? p : resolve(cwd, p)));
    const files = await annexedFiles(context.gitDir, context.workTree, specs);
    if (paths.length > 0 && files.length === 0) {
      throw new CliError(
        `No annexed file matches ${paths.map((p) => JSON.stringify(p)).join(", ")} (only files committed as git-annex pointers are).`,
        1,
      );
    }
    targets.push(...files.map((f) => ({ key: f.key, path: f.path, mode: f.mode })));
  }
  return targets;
}

export function workTreePath(context: AnnexContext, path: string): string {
  return join(context.workTree, path);
}

/** One result line for --json (git-annex's --json shape: one object per line). */
export function jsonLine(command: string, target: Target, fields: Record<string, unknown>): string {
  return `${JSON.stringify({ command, ...(target.path ? { file: target.path } : {}), key: target.key, ...fields })}\n`;
}

/** `--from`: the only place content can be dropped from or checked in, besides here, is the cloud. */
export function fromCloud(from: string | undefined): boolean {
  if (from !== undefined && from !== "cloud") throw new CliError(`--from ${JSON.stringify(from)}: the only remote is "cloud".`, 2);
  return from === "cloud";
}
