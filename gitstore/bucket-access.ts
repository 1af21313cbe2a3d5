import type { BucketAccess } from "../objectstore/index.ts";
import { assertEndpointUrl, normalizePrefix, type RemoteLocation } from "../protocol/core.ts";

/**
 * Where a repository's git config says how to reach its bucket: the folder's endpoint, region and the
 * profile holding its agent's key. The agent's folder settings (agent/folder/config.ts) and the remote helper
 * git runs for `git push` / `git fetch` in that folder read the same names, so a plain git command signs with
 * the folder's key and talks to the folder's endpoint, as its daemon does.
 */
export const BUCKET_ACCESS_SETTINGS = {
  endpoint: "cloudbridge.endpoint",
  region: "cloudbridge.region",
  profile: "cloudbridge.profile",
} as const;

/**
 * The repository's access settings from its config as localgit's readConfig reads it (the last value wins;
 * empty is unset). A malformed endpoint is refused here, before any request, saying which setting to change.
 */
export function bucketAccessFrom(config: ReadonlyMap<string, readonly string[]>): BucketAccess {
  const value = (name: string) => config.get(name.toLowerCase())?.at(-1) || undefined;
  const endpoint = value(BUCKET_ACCESS_SETTINGS.endpoint);
  return {
    endpoint:
      endpoint && assertEndpointUrl(endpoint, `${BUCKET_ACCESS_SETTINGS.endpoint} (git config ${BUCKET_ACCESS_SETTINGS.endpoint} URL)`),
    region: value(BUCKET_ACCESS_SETTINGS.region),
    profile: value(BUCKET_ACCESS_SETTINGS.profile),
  };
}

/** Where a synced folder's repository is in the bucket (`cloudbridge init` and `clone` write these). */
export const FOLDER_LOCATION_SETTINGS = {
  bucket: "cloudbridge.bucket",
  prefix: "cloudbridge.prefix",
  repo: "cloudbridge.repo",
} as const;

/**
 * Whether the repository's own settings (its access settings above and its recorded encryption) are about
 * the remote at `location`. A synced folder's settings describe the folder's repository only: a second
 * `cloudbridge::` remote (another bucket, prefix or repository) gets the environment's settings and the
 * bucket's word on encryption, never the folder's key, endpoint or encryption. A repository that names
 * no folder (a plain `git clone cloudbridge::…` whose settings a person set by hand) applies them to its
 * cloudbridge:: remotes.
 */
export function settingsAreFor(config: ReadonlyMap<string, readonly string[]>, location: RemoteLocation): boolean {
  const value = (name: string) => config.get(name)?.at(-1) || undefined;
  const bucket = value(FOLDER_LOCATION_SETTINGS.bucket);
  if (bucket === undefined) return true;
  let prefix: string;
  try {
    prefix = normalizePrefix(value(FOLDER_LOCATION_SETTINGS.prefix));
  } catch {
    return false; // a prefix no remote URL can name: the folder's command says what is wrong with it
  }
  return bucket === location.bucket && prefix === location.prefix && value(FOLDER_LOCATION_SETTINGS.repo) === location.repo;
}
