import { randomUUID } from "node:crypto";
import { ObjectTooLarge, PreconditionFailed } from "../../objectstore/index.ts";
import { isLowercaseUuid } from "../../protocol/index.ts";
import { AnnexError } from "../errors.ts";
import type { AnnexBranch, FileChange } from "./annex-branch.ts";
import { cloudRemoteConfig, formatRemoteLog, parseRemoteLog, type CloudRemoteParameters } from "./remote-log.ts";
import type { CloudContent } from "../transfer/transfer-settings.ts";
import { formatUuidLog, parseUuidLog } from "./uuid-log.ts";
import { nextVectorClock } from "./vector-clock.ts";

/**
 * The cloud as a git-annex S3 special remote. Its UUID lives in the bucket at `annex/<repo>/annex-uuid`
 * (where git-annex's S3 remote keeps it, 36 bytes, no newline), created once with If-None-Match: * so
 * every agent agrees on it; its description in uuid.log and its configuration in remote.log let real
 * git-annex `enableremote` it.
 */
export async function ensureCloudUuid(cloud: CloudContent): Promise<string> {
  const key = cloud.layout.annexUuid(cloud.repo);
  for (let attempt = 0; attempt < 3; attempt++) {
    // Anyone who can write to the bucket can make it huge: a UUID is 36 bytes, and nothing longer is read.
    const existing = await cloud.store.get(key, { maxBytes: UUID_MAX_BYTES }).catch((error: unknown) => {
      throw error instanceof ObjectTooLarge ? damagedCloudUuid(key, `${error.size} bytes or more`) : error;
    });
    if (existing && existing !== "not-modified") {
      const uuid = existing.body.toString("utf8").trim().toLowerCase();
      if (!isLowercaseUuid(uuid)) throw damagedCloudUuid(key, `${existing.body.length} bytes that are no UUID`);
      return uuid;
    }
    const uuid = randomUUID();
    try {
      await cloud.store.put(key, uuid, { ifNoneMatch: "*", contentType: "text/plain" });
      return uuid;
    } catch (error) {
      if (!(error instanceof PreconditionFailed)) throw error;
    }
  }
  throw new Error(`Could not read or create ${key}; check the bucket's permissions.`);
}

/** Room for git-annex's 36 bytes and a line ending or two; a longer object is refused unread. */
const UUID_MAX_BYTES = 64;

/**
 * The cloud's UUID names its copy of every annexed file in every machine's location log, so a damaged one is
 * put back, never replaced by a new one (that would make every machine forget what the cloud holds). Every
 * machine that syncs the repository remembers it, so these go on syncing; a new clone cannot start.
 */
function damagedCloudUuid(key: string, found: string): AnnexError {
  return new AnnexError(
    "corrupt-cloud-uuid",
    key,
    `The bucket's ${key} holds ${found}, not the cloud's annex UUID, which only cloudbridge writes (once). ` +
      `Put it back: restore its previous version if the bucket keeps versions, or write there the UUID that a ` +
      `machine syncing this repository remembers (\`git -C FOLDER config cloudbridge.cloudUuid\` prints it).`,
  );
}

/**
 * Records the cloud in uuid.log and remote.log (once; an existing entry for the same uuid is kept). With
 * `sealed` (an encrypted repository, whose objects git-annex's S3 remote cannot read) only uuid.log: no
 * remote.log entry means git-annex cannot enable the remote, so it can never upload content there in clear.
 */
export async function recordCloudRemote(
  branch: AnnexBranch,
  cloudUuid: string,
  parameters: CloudRemoteParameters,
  options: { sealed?: boolean } = {},
): Promise<void> {
  const config = cloudRemoteConfig(parameters);
  await branch.change(
    "record the cloud special remote",
    new Map([
      ["uuid.log", describe(cloudUuid, config.name!, { keepExisting: true })],
      [
        "remote.log",
        (old: string | undefined) => {
          if (options.sealed) return undefined;
          const remotes = parseRemoteLog(old ?? "");
          if (remotes.has(cloudUuid)) return undefined;
          remotes.set(cloudUuid, { uuid: cloudUuid, config, clock: nextVectorClock() });
          return formatRemoteLog(remotes.values());
        },
      ],
    ]),
  );
}

/** Records (or renames) a repository in uuid.log: what `git annex whereis` shows for it. */
export async function recordRepository(branch: AnnexBranch, uuid: string, description: string): Promise<void> {
  await branch.change("describe repository", new Map([["uuid.log", describe(uuid, description, { keepExisting: false })]]));
}

/** The uuid.log change that names a repository (unless it is named already and `keepExisting`). */
function describe(uuid: string, description: string, options: { keepExisting: boolean }): FileChange {
  return (old) => {
    const entries = parseUuidLog(old ?? "");
    const previous = entries.get(uuid);
    if (previous && (options.keepExisting || previous.description === description)) return undefined;
    entries.set(uuid, { uuid, description, clock: nextVectorClock(previous?.clock) });
    return formatUuidLog(entries.values());
  };
}
