import { mkdir, readFile } from "node:fs/promises";
import { dirname } from "node:path";
import { parseProfileSection, sharedFilePaths, staticKey, withCredentialsProfile } from "../../objectstore/index.ts";
import { writeFileAtomic } from "../sync/atomic-file.ts";

/**
 * An agent's key as a named profile in the AWS shared credentials file (`~/.aws/credentials`, or
 * `AWS_SHARED_CREDENTIALS_FILE`), where the AWS CLI and every SDK look for it: `aws s3 ls --profile
 * cloudbridge-<stack>-<agent>` works with the same key. The file is rewritten whole (a temporary beside it,
 * renamed over), with mode 0600, keeping every other profile as it was. How the file is read and a section
 * replaced is objectstore's (aws-profiles.ts), the one reader of AWS's shared files.
 */
export interface AccessKey {
  accessKeyId: string;
  secretAccessKey: string;
}

/** The profile an onboarded agent's key is stored under. */
export function profileNameFor(stack: string, agent: string): string {
  return `cloudbridge-${stack}-${agent}`;
}

/** The static key of `profile` in the credentials file's text, or undefined when it has none. */
export function parseProfile(text: string, profile: string): AccessKey | undefined {
  const key = staticKey(parseProfileSection(text, profile, "credentials"));
  return key ? { accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey } : undefined;
}

/** Writes (or replaces) `profile` with `key`, every other section kept; the file ends up with mode 0600. */
export async function writeProfileKey(profile: string, key: AccessKey, path = sharedFilePaths().credentials): Promise<void> {
  if (/[\s\r\n]/.test(key.accessKeyId + key.secretAccessKey)) throw new Error("an access key holds no white space");
  const before = (await readText(path)) ?? "";
  const after = withCredentialsProfile(before, profile, [
    `aws_access_key_id = ${key.accessKeyId}`,
    `aws_secret_access_key = ${key.secretAccessKey}`,
  ]);
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  await writeFileAtomic(path, after, { mode: 0o600, fsync: true });
}

/** Removes `profile` from the file (a machine that leaves); nothing happens when it is not there. */
export async function removeProfile(profile: string, path = sharedFilePaths().credentials): Promise<void> {
  const before = await readText(path).catch(() => undefined);
  if (before === undefined || parseProfile(before, profile) === undefined) return;
  await writeFileAtomic(path, withCredentialsProfile(before, profile, undefined), { mode: 0o600, fsync: true });
}

async function readText(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
}
