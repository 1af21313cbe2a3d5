import { readFile, stat } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";
import type { SigningKey } from "./sigv4.ts";

/**
 * The AWS shared files — the config file (`~/.aws/config`, or AWS_CONFIG_FILE) and the credentials file
 * (`~/.aws/credentials`, or AWS_SHARED_CREDENTIALS_FILE) — read as the AWS SDK for JavaScript reads them
 * (its shared-ini-file-loader), and a profile written into the credentials file, the parser and the writer
 * side by side:
 *
 * - a profile is `[name]` in the credentials file, `[profile name]` (or `[default]`) in the config file;
 *   any other section of the config file (`[sso-session x]`, `[services x]`) is no profile;
 * - `#` or `;` at a line's start or after white space starts a comment;
 * - a setting with an empty value (`s3 =`) opens a sub-section: the indented lines after it are
 *   `s3.<name>`;
 * - the credentials file wins over the config file, setting by setting; later lines over earlier ones.
 */
export type ProfileFileKind = "config" | "credentials";

/** Where the shared files are for this environment. */
export function sharedFilePaths(env: NodeJS.ProcessEnv = process.env): Record<ProfileFileKind, string> {
  const home = env.HOME || env.USERPROFILE || homedir();
  return {
    config: env.AWS_CONFIG_FILE || join(home, ".aws", "config"),
    credentials: env.AWS_SHARED_CREDENTIALS_FILE || join(home, ".aws", "credentials"),
  };
}

/** The profile the SDK uses in this environment. */
export function profileName(env: NodeJS.ProcessEnv = process.env): string {
  return env.AWS_PROFILE || "default";
}

/** The section a header names, in the SDK's terms: `profile x` is `x` in the config file, as `x` is in the credentials file. */
function sectionProfile(header: string, kind: ProfileFileKind): string | undefined {
  const prefixed = /^([\w-]+)\s(["'])?([\w\-@+.%:/]+)\2$/.exec(header);
  if (prefixed) {
    // `[profile x]`, `[sso-session x]`, `[services x]`: only the first is a profile, and only in the config file.
    return kind === "config" && prefixed[1] === "profile" ? prefixed[3] : undefined;
  }
  if (kind === "config") return header === "default" ? "default" : undefined;
  return header;
}

/** A line without its comment, trimmed (the SDK's rule: `#` or `;` at the start or after white space). */
function uncommented(line: string): string {
  return line.split(/(?:^|\s)[;#]/)[0]!.trim();
}

function sectionHeader(trimmed: string): string | undefined {
  return trimmed.startsWith("[") && trimmed.endsWith("]") ? trimmed.slice(1, -1) : undefined;
}

/** One profile's settings in one shared file (sub-section settings as `parent.name`); empty when it is not there. */
export function parseProfileSection(text: string, profile: string, kind: ProfileFileKind): Map<string, string> {
  const values = new Map<string, string>();
  let inside = false;
  let subSection: string | undefined;
  for (const line of text.split(/\r?\n/)) {
    const trimmed = uncommented(line);
    const header = sectionHeader(trimmed);
    if (header !== undefined) {
      // `[profile default]` and `[default]` are one profile in the config file.
      inside = sectionProfile(header, kind) === profile;
      subSection = undefined;
      continue;
    }
    if (!inside) continue;
    const equals = trimmed.indexOf("=");
    if (equals <= 0) continue;
    const name = trimmed.slice(0, equals).trim();
    const value = trimmed.slice(equals + 1).trim();
    if (value === "") {
      subSection = name;
      continue;
    }
    if (subSection !== undefined && line.trimStart() === line) subSection = undefined;
    values.set(subSection === undefined ? name : `${subSection}.${name}`, value);
  }
  return values;
}

/** One profile of one shared file: its settings, or "unreadable" when the file exists but cannot be read. A missing file is an empty one. */
export async function readProfileSection(
  path: string,
  profile: string,
  kind: ProfileFileKind,
): Promise<Map<string, string> | "unreadable"> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "ENOENT" ? new Map() : "unreadable";
  }
  return parseProfileSection(text, profile, kind);
}

/** A profile as the SDK sees it: the config file's settings under the credentials file's. */
export interface Profile {
  config: Map<string, string>;
  credentials: Map<string, string>;
  /** A setting: the credentials file's, else the config file's. */
  get(name: string): string | undefined;
  /** Every setting name the profile has in either file. */
  names(): string[];
}

export async function readProfile(profile: string, env: NodeJS.ProcessEnv = process.env): Promise<Profile | "unreadable"> {
  const paths = sharedFilePaths(env);
  const [config, credentials] = await Promise.all([
    readProfileSection(paths.config, profile, "config"),
    readProfileSection(paths.credentials, profile, "credentials"),
  ]);
  if (config === "unreadable" || credentials === "unreadable") return "unreadable";
  return {
    config,
    credentials,
    get: (name) => credentials.get(name) ?? config.get(name),
    names: () => [...new Set([...config.keys(), ...credentials.keys()])],
  };
}

/** The profile's static key (`aws_access_key_id`, `aws_secret_access_key`, `aws_session_token`), if it has one. */
export function staticKey(profile: Pick<Profile, "get">): SigningKey | undefined {
  const accessKeyId = profile.get("aws_access_key_id");
  const secretAccessKey = profile.get("aws_secret_access_key");
  const sessionToken = profile.get("aws_session_token");
  return accessKeyId && secretAccessKey ? { accessKeyId, secretAccessKey, ...(sessionToken ? { sessionToken } : {}) } : undefined;
}

/** When the shared files last changed (0 for a missing one): how a long-running process notices a rewritten key. */
export async function sharedFilesVersion(env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const paths = sharedFilePaths(env);
  const times = await Promise.all(
    [paths.credentials, paths.config].map((path) =>
      stat(path).then(
        (info) => info.mtimeMs,
        () => 0,
      ),
    ),
  );
  return times.join("/");
}

/**
 * The credentials file's text with `profile` replaced by `lines` (or removed, `lines` undefined), every other
 * section and comment kept as it was; a new profile goes at the end, after one blank line.
 */
export function withCredentialsProfile(text: string, profile: string, lines: string[] | undefined): string {
  if (!/^[A-Za-z0-9._-]+$/.test(profile)) {
    throw new Error(`${JSON.stringify(profile)} is not a profile name the credentials file can hold`);
  }
  const out: string[] = [];
  let inside = false;
  for (const line of text.split(/\r?\n/)) {
    const header = sectionHeader(uncommented(line));
    if (header !== undefined) inside = sectionProfile(header, "credentials") === profile;
    if (!inside) out.push(line);
  }
  while (out.length > 0 && out.at(-1)!.trim() === "") out.pop();
  if (lines) out.push(...(out.length ? [""] : []), `[${profile}]`, ...lines);
  return `${out.join("\n")}\n`;
}
