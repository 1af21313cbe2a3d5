import { mkdir, readFile, stat } from "node:fs/promises";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { writeFileAtomic } from "../sync/atomic-file.ts";

/**
 * An agent's key as a named profile in the AWS shared credentials file (`~/.aws/credentials`, or
 * `AWS_SHARED_CREDENTIALS_FILE`), where the AWS CLI and every SDK look for it: `aws s3 ls --profile
 * cloudbridge-<stack>-<agent>` works with the same key. The file is rewritten whole (a temporary beside it,
 * renamed over), with mode 0600, keeping every other profile as it was.
 */
export interface AccessKey {
  accessKeyId: string;
  secretAccessKey: string;
}

export function credentialsFilePath(env: NodeJS.ProcessEnv = process.env): string {
  return env.AWS_SHARED_CREDENTIALS_FILE || join(homedir(), ".aws", "credentials");
}

/** The profile an onboarded agent's key is stored under. */
export function profileNameFor(stack: string, agent: string): string {
  return `cloudbridge-${stack}-${agent}`;
}

const SECTION = /^\s*\[([^\]]+)\]\s*$/;

/** The key of `profile`, or undefined when the file or the profile is not there. */
export async function readProfileKey(profile: string, path = credentialsFilePath()): Promise<AccessKey | undefined> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
  return parseProfile(text, profile);
}

export function parseProfile(text: string, profile: string): AccessKey | undefined {
  let current: string | undefined;
  const values = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    const section = SECTION.exec(line);
    if (section) {
      current = section[1]!.trim();
      continue;
    }
    if (current !== profile || /^\s*[#;]/.test(line)) continue;
    const equals = line.indexOf("=");
    if (equals > 0) values.set(line.slice(0, equals).trim().toLowerCase(), line.slice(equals + 1).trim());
  }
  const accessKeyId = values.get("aws_access_key_id");
  const secretAccessKey = values.get("aws_secret_access_key");
  return accessKeyId && secretAccessKey ? { accessKeyId, secretAccessKey } : undefined;
}

/** Writes (or replaces) `profile` with `key`, every other section kept; the file ends up with mode 0600. */
export async function writeProfileKey(profile: string, key: AccessKey, path = credentialsFilePath()): Promise<void> {
  if (!/^[A-Za-z0-9._-]+$/.test(profile)) throw new Error(`${JSON.stringify(profile)} is not a profile name this file can hold`);
  if (/[\s\r\n]/.test(key.accessKeyId + key.secretAccessKey)) throw new Error("an access key holds no white space");
  const before = await readFile(path, "utf8").catch((error: NodeJS.ErrnoException) => {
    if (error.code === "ENOENT") return "";
    throw error;
  });
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  await writeFileAtomic(
    path,
    replaceSection(before, profile, [`aws_access_key_id = ${key.accessKeyId}`, `aws_secret_access_key = ${key.secretAccessKey}`]),
    {
      mode: 0o600,
      fsync: true,
    },
  );
}

/** Removes `profile` from the file (a machine that leaves); nothing happens when it is not there. */
export async function removeProfile(profile: string, path = credentialsFilePath()): Promise<void> {
  const before = await readFile(path, "utf8").catch(() => undefined);
  if (before === undefined || parseProfile(before, profile) === undefined) return;
  await writeFileAtomic(path, replaceSection(before, profile, undefined), { mode: 0o600, fsync: true });
}

function replaceSection(text: string, profile: string, lines: string[] | undefined): string {
  const out: string[] = [];
  let inside = false;
  for (const line of text.split(/\r?\n/)) {
    const section = SECTION.exec(line);
    if (section) inside = section[1]!.trim() === profile;
    if (!inside) out.push(line);
  }
  while (out.length > 0 && out.at(-1)!.trim() === "") out.pop();
  if (lines) out.push(...(out.length ? [""] : []), `[${profile}]`, ...lines);
  return `${out.join("\n")}\n`;
}

/** The file's modification time, or 0 when it is not there (how a running agent notices a rewritten key). */
export async function credentialsFileVersion(path = credentialsFilePath()): Promise<number> {
  try {
    return (await stat(path)).mtimeMs;
  } catch {
    return 0;
  }
}
