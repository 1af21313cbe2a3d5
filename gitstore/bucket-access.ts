import type { BucketAccess } from "../objectstore/index.ts";

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

/** The repository's access settings from its config as localgit's readConfig reads it (the last value wins; empty is unset). */
export function bucketAccessFrom(config: ReadonlyMap<string, readonly string[]>): BucketAccess {
  const value = (name: string) => config.get(name.toLowerCase())?.at(-1) || undefined;
  return {
    endpoint: value(BUCKET_ACCESS_SETTINGS.endpoint),
    region: value(BUCKET_ACCESS_SETTINGS.region),
    profile: value(BUCKET_ACCESS_SETTINGS.profile),
  };
}
