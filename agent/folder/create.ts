import { lstat, mkdtemp, readdir, rename, rmdir, stat } from "node:fs/promises";
import type { Stats } from "node:fs";
import { dirname, join, resolve } from "node:path";
import {
  explainAccessError,
  loadIdentity,
  newKeyring,
  PreconditionFailed,
  accessEndpoint,
  awsClientConfig,
  createS3Client,
  readKeyring,
  repositoryEncryption,
  repositoryStore,
  statusOf,
  writeKeyring,
  type ObjectStore,
} from "../../objectstore/index.ts";
import {
  BucketLayout,
  LAYOUT_FORMAT,
  READABLE_LAYOUT_FORMATS,
  type FormatMarker,
  assertAgentId,
  assertEndpointUrl,
  formatRemoteUrl,
  parseRemoteUrl,
  type RemoteLocation,
} from "../../protocol/index.ts";
import { AnnexBranch, ensureCloudUuid, parsePointer, recordCloudRemote, recordRepository, verifyFile } from "../../annex/index.ts";
import { AGENT_ID_KEY, agentIdFor, readBucketRefs } from "../../gitstore/index.ts";
import type { Logger } from "../log.ts";
import { AGENT_VERSION } from "../presence.ts";
import type { SyncReport } from "../sync/engine.ts";
import { LocalRepo, MAIN_REF } from "../sync/local-repo.ts";
import { clearCloneState, readCloneState, writeCloneState } from "./clone-state.ts";
import { assertSettingValues, gitFor, readSettings, writeSettings, type SettingValues } from "./config.ts";
import { FolderError, inLinkedWorktree } from "./errors.ts";
import { findFolder, linkedWorktreeOf } from "./find.ts";
import { openSyncedFolder, storeFor, type SyncedFolder } from "./open.ts";
import { BlobReader, Git } from "../../localgit/index.ts";
import { variantName } from "../sync/merge.ts";

/** `initFolder` and `cloneFolder` make a directory a cloudbridge folder (first machine / joining machine). */
export interface CreateOptions {
  endpoint?: string;
  /** The bucket's region; default: the AWS SDK's (AWS_REGION, the profile), or us-east-1 for an endpoint of its own. */
  region?: string;
  /** The profile holding the agent's key (onboarding sets it). */
  profile?: string;
  /** The agent id to take (an invite names it in advance); a new UUID otherwise. */
  agent?: string;
  /** Runs once the bucket and the folder were found fit, before anything is written here (an invite is claimed then). */
  beforeCreate?: () => Promise<void>;
  description?: string;
  settings?: SettingValues;
  log?: Logger;
  /** init only: encrypt the repository (docs/encryption.md) with a data key wrapped for this machine's identity. */
  encrypt?: boolean;
  /**
   * For `init` in a git repository that already has history: "adopt" uploads it (main becomes the
   * current commit, and every machine gets the whole history); "new" starts a new history on main (the
   * files become its first commit; the repository's own branches stay here, not synced). Without it, such
   * a repository is refused and nothing is changed.
   */
  history?: "adopt" | "new";
}

/** First machine: creates the repository in the bucket and makes `dir` (existing files and all) its first folder. */
export async function initFolder(dir: string, url: string, options: CreateOptions = {}): Promise<SyncedFolder> {
  const root = await folderRoot(dir);
  const location = parseRemoteUrl(url);
  const around = await findFolder(dirname(root));
  if (await LocalRepo.isRepo(around))
    throw new FolderError(
      "already-a-folder",
      `${root} is inside the cloudbridge folder ${around}, which syncs it already: run cloudbridge commands there (or in any folder below it).`,
    );
  // A worktree shares the folder's repository and git config: settings written there would be the folder's.
  const worktree = await linkedWorktreeOf(root);
  if (worktree) throw inLinkedWorktree(worktree, "init", root);
  assertCreateOptions(options);
  const store = storeFor({ location, endpoint: options.endpoint, region: options.region, profile: options.profile });
  const layout = new BucketLayout(location.prefix);
  let history: History | undefined;
  try {
    if (await LocalRepo.isRepo(root)) {
      // An init of this same repository that stopped before anything reached the bucket is carried on, never
      // refused: its folder is half made, and the retry is how a person finishes it.
      const configured = await readSettings(root).then(
        (s) => formatRemoteUrl(s.location),
        () => undefined,
      );
      // (no settings yet: stopped while the folder was being made)
      if ((configured !== undefined && configured !== formatRemoteUrl(location)) || (await repositoryExists(store, layout, location.repo)))
        throw new FolderError("already-a-folder", `${root} is already a cloudbridge folder; run \`cloudbridge sync ${dir}\`.`);
    } else {
      history = await existingHistory(root);
      if (history) checkHistoryChoice(root, dir, url, history, options.history);
    }
    if (await repositoryExists(store, layout, location.repo)) {
      throw new FolderError(
        "repository-exists",
        `${formatRemoteUrl(location)} already exists in the bucket: join it with \`cloudbridge clone ${url} ${dir}\`.`,
      );
    }
    await ensureDeployment(store, layout, location);
    if (options.encrypt) {
      // The key ring comes before any object of the repository, so nothing of it is ever written in clear.
      const identity = (await loadIdentity({ create: true }))!;
      const { file } = await newKeyring(identity, options.description ?? "first machine");
      await writeKeyring(store, layout, location.repo, file, undefined);
    }
  } catch (error) {
    throw explainAccessError(error, { bucket: location.bucket, ...(options.endpoint ? { endpoint: options.endpoint } : {}) }) ?? error;
  } finally {
    store.destroy();
  }
  await options.beforeCreate?.();
  await createLocal(root, location, options);
  await applyHistoryChoice(root, history, options.history);
  return openSyncedFolder(root, options.log ? { log: options.log } : {});
}

/** What init and clone were given, refused before they write anything, here or in the bucket. */
function assertCreateOptions(options: CreateOptions): void {
  if (options.endpoint !== undefined) assertEndpointUrl(options.endpoint, "--endpoint");
  if (options.settings) assertSettingValues(options.settings);
}

/** A git repository's own history at `root`: its branches and the commit HEAD names; undefined when it has none. */
interface History {
  branches: string[];
  head: string | undefined;
  headBranch: string | undefined;
}

async function existingHistory(root: string): Promise<History | undefined> {
  if (!(await stat(join(root, ".git")).catch(() => undefined))) return undefined;
  const git = new Git(join(root, ".git"));
  const refs = await git.run(["for-each-ref", "--format=%(refname:short)", "refs/heads/"], { okCodes: [128] });
  const branches = refs.stdout.toString().split("\n").filter(Boolean);
  if (branches.length === 0) return undefined;
  const headRef = await git.run(["symbolic-ref", "--quiet", "HEAD"], { okCodes: [1, 128] });
  const headBranch =
    headRef.code === 0
      ? headRef.stdout
          .toString()
          .trim()
          .replace(/^refs\/heads\//, "")
      : undefined;
  return { branches, head: await git.revParse("HEAD"), headBranch };
}

/** Refuses, before anything is written anywhere, a repository with history and no choice (or a choice it cannot take). */
function checkHistoryChoice(root: string, dir: string, url: string, history: History, choice: CreateOptions["history"]): void {
  const on = history.headBranch ? `branch ${history.headBranch}` : "a detached HEAD";
  if (!choice) {
    throw new FolderError(
      "existing-history",
      `${root} is a git repository with history of its own (${history.branches.length} branch(es), HEAD on ${on}); nothing was changed. ` +
        `Choose: \`cloudbridge init ${dir} --remote ${url} --adopt-history\` uploads that history (every machine gets all of it), or ` +
        `\`--new-history\` starts a new one on branch main from the files (your branches stay here, not synced).`,
    );
  }
  if (choice === "adopt" && !history.head)
    throw new FolderError("existing-history", `${root}: HEAD names no commit, so there is no history to adopt; use --new-history.`);
  if (choice === "adopt" && history.branches.includes("main") && history.headBranch !== "main")
    throw new FolderError(
      "existing-history",
      `${root}: HEAD is on ${on}, not on main, and a branch main exists; nothing was changed. Check out the branch to adopt as main first.`,
    );
  if (choice === "new" && history.branches.includes("main"))
    throw new FolderError(
      "existing-history",
      `${root} already has a branch main, which a new history would replace; nothing was changed. ` +
        `Use --adopt-history, or rename it first (\`git -C ${dir} branch -m main old-main\`).`,
    );
}

/**
 * HEAD goes to main, where the folder's commits are (a repository made with another first branch, or
 * none yet); main starts at the current commit (adopt) or unborn (new: the first round commits the files).
 */
async function applyHistoryChoice(root: string, history: History | undefined, choice: CreateOptions["history"]): Promise<void> {
  const git = new Git(join(root, ".git"));
  if (history && choice === "adopt" && history.headBranch !== "main") await git.updateRef(MAIN_REF, history.head!, "");
  await git.run(["symbolic-ref", "HEAD", MAIN_REF]);
}

/** The folder `dir` names for init or clone: a new one, or a directory; a file (or anything else) is refused. */
/**
 * The folder init or clone makes (absolute), once found fit (assertFolderPlace). An empty name is refused: it
 * resolves to the current directory, and a script's unset variable (`cloudbridge clone URL "$DIR"`) would
 * have synced whatever directory it ran in, a home folder included.
 */
export async function folderRoot(dir: string): Promise<string> {
  if (dir.trim() === "")
    throw new FolderError(
      "not-a-folder",
      `The folder was given as an empty name ("", an unset variable in a script?), which would be the current directory, ${process.cwd()}: ` +
        `name the folder (".", to mean the current directory). Nothing was written, here or in the bucket.`,
    );
  const root = resolve(dir);
  await assertFolderPlace(root);
  return root;
}

/**
 * Refuses, before anything is written here or in the bucket, a `root` where init or clone cannot make a
 * folder: a file (or a FIFO, a device) there or on the way to it, a read-only mount, a directory this user
 * may not write in, a file system of the kernel's (/proc, /sys). Without this, the first write came after
 * the bucket was set up, and in /proc Node's recursive mkdir never returns (mkdir answers ENOENT under an
 * existing parent, which it takes for a missing parent, forever). The nearest directory that exists is
 * tried with a folder made and removed at once, as the folder's own would be made there.
 */
export async function assertFolderPlace(root: string): Promise<void> {
  let existing = root;
  let found: Stats | undefined;
  for (;;) {
    found = await stat(existing).catch((error: NodeJS.ErrnoException) => {
      if (error.code === "ENOENT" || error.code === "ENOTDIR") return undefined;
      throw cannotMake(root, existing, error);
    });
    if (found || dirname(existing) === existing) break;
    existing = dirname(existing);
  }
  if (!found)
    throw new FolderError("not-a-folder", `${root} cannot be made: no part of that path exists. Name a folder on a mounted disk.`);
  if (!found.isDirectory())
    throw new FolderError(
      "not-a-folder",
      existing === root
        ? `${root} is ${kindOf(found)}, not a folder: name a new folder, or one that holds the files to sync.`
        : `${root} cannot be made: ${existing} is ${kindOf(found)}, not a folder. Name a folder elsewhere.`,
    );
  try {
    await rmdir(await mkdtemp(join(existing, ".cloudbridge-probe-")));
  } catch (error) {
    throw cannotMake(root, existing, error as NodeJS.ErrnoException);
  }
}

function kindOf(found: Stats): string {
  if (found.isFIFO()) return "a named pipe (FIFO)";
  if (found.isSocket()) return "a socket";
  if (found.isCharacterDevice() || found.isBlockDevice()) return "a device";
  return "a file";
}

/** Why no folder can be made at `root`, said of `at`, the directory where it failed. Nothing was written. */
function cannotMake(root: string, at: string, error: NodeJS.ErrnoException): FolderError {
  const where = at === root ? root : `${root} (in ${at})`;
  const why =
    error.code === "EROFS"
      ? `${at} is on a read-only file system`
      : error.code === "EACCES" || error.code === "EPERM"
        ? `this user may not write in ${at}`
        : error.code === "ENOENT"
          ? `${at} is on a file system where folders cannot be made (the kernel's, as /proc)`
          : `${at} cannot be written (${error.code ?? error.message})`;
  return new FolderError(
    "not-a-folder",
    `No folder can be made at ${where}: ${why}. Name a folder on a writable disk (in your home, say). Nothing was written, here or in the bucket.`,
    { cause: error },
  );
}

/**
 * Another machine: joins the repository at `url` in the (empty or new) folder `dir`, or carries on with a
 * clone of the same URL that was interrupted there (clone-state.ts). The caller then runs `finishClone`.
 */
export async function cloneFolder(url: string, dir: string, options: CreateOptions = {}): Promise<SyncedFolder> {
  const root = await folderRoot(dir);
  const location = parseRemoteUrl(url);
  const entries = await readdir(root).catch(() => [] as string[]);
  const unfinished = entries.length > 0 ? await readCloneState(root) : undefined;
  if (unfinished && unfinished.url !== formatRemoteUrl(location)) {
    throw new FolderError(
      "clone-unfinished",
      `${root} is an interrupted clone${unfinished.url ? ` of ${unfinished.url}` : ""}, not of ${url}: finish that one, or clone into another folder.`,
    );
  }
  // A folder with files joins (they become local changes, or variants where the bucket has another
  // version): but not a git repository, whose history would be mixed in unseen.
  if (entries.includes(".git") && !unfinished) {
    // A clone run again once it finished (as after an interrupted one) is told how the folder syncs.
    const synced = await readSettings(root).then(
      (settings) => formatRemoteUrl(settings.location),
      () => undefined,
    );
    throw new FolderError(
      "folder-not-empty",
      synced === formatRemoteUrl(location)
        ? `${root} is a clone of ${url} already: keep it in sync with \`cloudbridge sync ${dir}\` (or \`cloudbridge daemon ${dir}\`).`
        : synced
          ? `${root} is a cloudbridge folder of ${synced} already: clone ${url} into a new folder.`
          : `${root} is a git repository already: clone into a new folder, or run \`cloudbridge init\` there (with --adopt-history or --new-history) for a new repository.`,
    );
  }
  assertCreateOptions(options);
  const store = storeFor({ location, endpoint: options.endpoint, region: options.region, profile: options.profile });
  const layout = new BucketLayout(location.prefix);
  try {
    if (!(await repositoryExists(store, layout, location.repo))) {
      throw new FolderError(
        "no-such-repository",
        `there is no repository at ${formatRemoteUrl(location)} yet: create it with \`cloudbridge init DIR --remote ${url}\` on the first machine.`,
      );
    }
    // An encrypted repository: this machine must hold its key before anything is written here (refused in one line).
    if (await repositoryEncryption(store, layout, location.repo, undefined))
      await repositoryStore(store, layout, location.repo, { recorded: true, machine: await loadIdentity({ create: true }) });
  } catch (error) {
    throw explainAccessError(error, { bucket: location.bucket, ...(options.endpoint ? { endpoint: options.endpoint } : {}) }) ?? error;
  } finally {
    store.destroy();
  }
  await options.beforeCreate?.();
  // Recorded before anything else is written, so that an interruption anywhere leaves a folder that says so.
  if (!unfinished) await writeCloneState(root, { url: formatRemoteUrl(location), ...(entries.length > 0 ? { joining: true } : {}) });
  await createLocal(root, location, options);
  return openSyncedFolder(root, { ...(options.log ? { log: options.log } : {}), finishingClone: true });
}

/**
 * The rest of a clone, after `cloneFolder`: the folder takes the bucket's main — or, when an interrupted
 * clone was writing another commit, that one first (its files are the ones already here) — before
 * anything in it is committed; then it is a synced folder like any other. Files already written are
 * kept (re-hashed by the next round, not written again); a file a person put there meanwhile is kept and
 * committed on top by the next round.
 */
export async function finishClone(folder: SyncedFolder): Promise<SyncReport | undefined> {
  const state = await readCloneState(folder.root);
  if (!state) return undefined;
  let target = state.target && (await folder.repo.git.revParse(state.target)) ? state.target : undefined;
  if (!target) {
    target = (await folder.engine.remote.fetch()).get(MAIN_REF);
    // Files that were there before the clone and differ from the bucket's at the same name step aside
    // (once, before anything is written): both versions stay, as after a merge.
    if (target && state.joining) await keepBothVersions(folder, target);
    if (target) await writeCloneState(folder.root, { url: state.url, target });
  }
  const report = target && folder.repo.cache.commit !== target ? await folder.engine.takeRemote(target) : undefined;
  await clearCloneState(folder.root);
  return report;
}

/**
 * Before a clone writes the bucket's files into a folder that had files of its own: each file at a name
 * the bucket's commit also has, with other content, moves to `name.variant-XXXX.ext` (XXXX from its
 * content, as merges name variants). The bucket's version then takes the name and the next round commits
 * the variant: nothing is lost and neither side's version silently wins. Identical files stay.
 */
async function keepBothVersions(folder: SyncedFolder, target: string): Promise<void> {
  const git = folder.repo.git;
  const tree = await git.lsTree(target);
  const taken = new Map<string, unknown>(tree);
  const reader = new BlobReader(git.gitDir);
  try {
    for (const [path, entry] of tree) {
      const local = join(folder.root, path);
      const stats = await lstat(local).catch(() => undefined);
      if (!stats?.isFile() || entry.mode === "160000" || entry.mode === "120000") continue;
      const blob = await reader.read(entry.oid);
      const key = blob ? parsePointer(blob) : undefined;
      const same = key
        ? (await verifyFile(local, key).catch(() => "unreadable")) === undefined
        : (await git.text(["hash-object", "--no-filters", "--", local])) === entry.oid;
      if (same) continue;
      const seed = key ?? (await git.text(["hash-object", "--no-filters", "--", local]));
      const variant = variantName(path, seed, taken);
      taken.set(variant, true);
      await rename(local, join(folder.root, variant));
    }
  } finally {
    await reader.close();
  }
}

async function createLocal(root: string, location: RemoteLocation, options: CreateOptions): Promise<void> {
  await LocalRepo.create(root);
  const gitDir = join(root, ".git");
  if (options.agent) await gitFor(gitDir).setConfig(AGENT_ID_KEY, assertAgentId(options.agent));
  const agent = await agentIdFor(gitDir, { folder: true });
  // The folder keeps where its bucket is and how to reach it (endpoint, region), so any shell can use it:
  // what this command got from its environment is written down, never a credential.
  const endpoint = options.endpoint ?? sdkEndpoint();
  const region = options.region ?? (await sdkRegion(endpoint));
  await writeSettings(gitDir, {
    bucket: location.bucket,
    prefix: location.prefix,
    repo: location.repo,
    ...(endpoint ? { endpoint } : {}),
    ...(region ? { region } : {}),
    ...(options.profile ? { profile: options.profile } : {}),
    ...(options.description ? { description: options.description } : {}),
    ...options.settings,
  });
  const settings = await readSettings(root, gitDir);
  const store = storeFor(settings);
  try {
    const layout = new BucketLayout(location.prefix);
    // Recorded before the repository is opened through it (folder/open.ts), and never asked of the bucket again.
    const sealed = (await repositoryEncryption(store, layout, location.repo, undefined)) !== undefined;
    await writeSettings(gitDir, { encrypted: String(sealed) });
    const cloudUuid = await ensureCloudUuid({ store, layout, repo: location.repo });
    const branch = new AnnexBranch(gitDir);
    await recordRepository(branch, agent, settings.description);
    await recordCloudRemote(
      branch,
      cloudUuid,
      { bucket: location.bucket, fileprefix: layout.annexRoot(location.repo), endpoint, region: region ?? "us-east-1" },
      // git-annex's S3 remote would write content in clear into an encrypted repository: it is not offered one.
      { sealed },
    );
    await writeSettings(gitDir, { cloudUuid });
  } finally {
    store.destroy();
  }
}
/** The endpoint the AWS SDK would use from the environment (AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL), checked. */
function sdkEndpoint(): string | undefined {
  return accessEndpoint({});
}

/** The region the AWS SDK resolves here (AWS_REGION, the profile); undefined when it finds none. */
async function sdkRegion(endpoint: string | undefined): Promise<string | undefined> {
  // The SDK's client itself, not a store's: it is asked its region, never sent a request.
  const client = createS3Client(awsClientConfig({ endpoint }));
  try {
    return await client.config.region();
  } catch {
    return undefined;
  } finally {
    client.destroy();
  }
}

async function repositoryExists(store: ObjectStore, layout: BucketLayout, repo: string): Promise<boolean> {
  if (await readKeyring(store, layout, repo)) return true;
  if ((await store.head(layout.infoRefs(repo))) !== undefined) return true;
  const refs = await readBucketRefs(store, layout, repo); // a format 1 or 2 repository: one file per ref
  return refs.shared.size > 0 || refs.synced.size > 0 || (await store.head(layout.head(repo))) !== undefined;
}

/**
 * The deployment's format marker and README, written once (If-None-Match: *). The marker says the newest
 * format this bucket's repositories may use (protocol/layout.ts: format 3, refs index, read by nothing
 * older), so an older cloudbridge refuses it instead of misreading it; a format 1 or 2 marker is raised by
 * compare-and-swap, and its repositories are moved to the index on first use. Whether a repository is
 * encrypted is its own (its key ring), in any bucket of format 2 or later. Onboarding runs this with the administrator's credentials before an agent's key is used; an
 * agent's key may read and create exactly these two objects, and nothing else at the bucket root. S3 answers
 * 403 rather than 404 for a missing key the caller may not list, so a refused read of the marker is not an
 * answer: creating it says (412: it exists, read it again).
 */
export async function ensureDeployment(store: ObjectStore, layout: BucketLayout, location: RemoteLocation): Promise<void> {
  const format = LAYOUT_FORMAT;
  for (;;) {
    let existing = await readMarker(store, layout);
    if (existing === "refused" || existing === undefined) {
      if ((await writeDeployment(store, layout, format)) !== "marker-existed") return;
      existing = await readMarker(store, layout);
      if (existing === "refused") throw new Error(`reading s3://${location.bucket}/${layout.formatMarker()} was refused (403)`);
      if (existing === undefined) continue; // removed meanwhile: start again
    }
    let marker: FormatMarker | undefined;
    try {
      marker = JSON.parse(existing.body.toString()) as FormatMarker;
    } catch {
      marker = undefined;
    }
    if (!marker || !READABLE_LAYOUT_FORMATS.includes(marker.format)) {
      throw new FolderError(
        "unsupported-format",
        `s3://${location.bucket}/${layout.formatMarker()} says format ${JSON.stringify(marker?.format)}; this cloudbridge reads formats ${READABLE_LAYOUT_FORMATS.join(" and ")}: use a newer cloudbridge or another prefix.`,
      );
    }
    if (marker.format >= format) return;
    try {
      await store.put(layout.formatMarker(), `${JSON.stringify({ ...marker, format }, null, 2)}\n`, {
        ifMatch: existing.etag,
        contentType: "application/json",
      });
      return;
    } catch (error) {
      if (!(error instanceof PreconditionFailed)) throw error; // changed meanwhile: read it again
    }
  }
}

async function readMarker(store: ObjectStore, layout: BucketLayout): Promise<{ body: Buffer; etag: string } | undefined | "refused"> {
  try {
    const object = await store.get(layout.formatMarker());
    return object && object !== "not-modified" ? object : undefined;
  } catch (error) {
    if (statusOf(error) === 403) return "refused";
    throw error;
  }
}

/**
 * README first, then the marker, both If-None-Match: *. The README doubles as the conditional-write probe,
 * so nothing is written anywhere else (an agent's key may write nowhere else at the root): a store that
 * refuses a second create of it honours conditional writes; one that lets it through does not, and the
 * README is rewritten to say so. A refused first create proves it too (someone else wrote it).
 */
async function writeDeployment(store: ObjectStore, layout: BucketLayout, format: number): Promise<boolean | "marker-existed"> {
  const createReadme = (conditionalWrites: boolean) =>
    store.put(layout.readme(), readmeText(layout, conditionalWrites), { ifNoneMatch: "*", contentType: "text/plain; charset=utf-8" });
  let conditionalWrites: boolean;
  try {
    await createReadme(true);
    await createReadme(true);
    conditionalWrites = false;
    await store.put(layout.readme(), readmeText(layout, false), { contentType: "text/plain; charset=utf-8" });
  } catch (error) {
    if (!(error instanceof PreconditionFailed)) throw error;
    conditionalWrites = true;
  }
  const marker: FormatMarker = {
    format,
    createdBy: `cloudbridge ${AGENT_VERSION}`,
    createdAt: new Date().toISOString(),
    conditionalWrites,
  };
  try {
    await store.put(layout.formatMarker(), `${JSON.stringify(marker, null, 2)}\n`, { ifNoneMatch: "*", contentType: "application/json" });
  } catch (error) {
    if (!(error instanceof PreconditionFailed)) throw error;
    return "marker-existed"; // another machine wrote it first: its format decides
  }
  return conditionalWrites;
}

function readmeText(layout: BucketLayout, conditionalWrites: boolean): string {
  const p = layout.prefix;
  return `This part of the bucket is kept by cloudbridge, which keeps folders in sync between machines.
Please do not edit or delete objects here by hand: the machines syncing through it rely on them.

  ${p}cloudbridge.json        format marker
  ${p}keys/<repo>/            an encrypted repository's keys, each wrapped for the machines that may read it
  ${p}repos/<repo>.git/       each synced folder's history, as a bare git repository:
                              copy it to disk and \`git clone\` it to read it without cloudbridge
  ${p}annex/<repo>/<KEY>      large files, named by their content hash (git-annex S3 layout)
  ${p}agents/<repo>/<id>.json the machines syncing each folder and when they were last seen

${conditionalWrites ? "This store supports conditional writes: concurrent changes are merged safely." : "WARNING: this store did not honour conditional writes when cloudbridge checked; concurrent pushes\nare kept in each machine's refs/synced/ refs, but the shared branch is best-effort."}
`;
}
