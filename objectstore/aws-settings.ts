import { readFile } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";
import type { SigningKey } from "./sigv4.ts";

/**
 * The AWS settings of this process — region, endpoint, access key — when they are simple enough to apply
 * without the AWS SDK, resolved exactly as the SDK resolves them for S3:
 *
 * - the key from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (/ AWS_SESSION_TOKEN) unless AWS_PROFILE is set,
 *   else the static key of the profile (AWS_PROFILE or "default") in the shared credentials and config
 *   files (AWS_SHARED_CREDENTIALS_FILE, AWS_CONFIG_FILE; ~/.aws/credentials and ~/.aws/config);
 * - the region from AWS_REGION, else the profile's (the credentials file's first, as with every setting);
 * - the endpoint from AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL (path-style, as createS3Client does), else
 *   S3's regional endpoint.
 *
 * Anything else — a profile that assumes a role, runs a process, uses SSO or a web identity, credentials
 * from a container or the instance (IMDS), FIPS or dual-stack endpoints, an endpoint or S3 setting in the
 * profile, another retry mode — returns undefined, and the caller uses the SDK, whose credential chain and
 * configuration handle all of it. So the light client never signs with other settings than the SDK would.
 */
export interface S3Settings {
  region: string;
  /** The endpoint's origin, e.g. https://s3.eu-west-1.amazonaws.com or http://127.0.0.1:4566. */
  endpoint: URL;
  /** Path-style requests (bucket in the path) rather than virtual-hosted (bucket in the host name). */
  pathStyle: boolean;
  /** The endpoint was given (AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL), not S3's own. */
  configuredEndpoint: boolean;
  key: SigningKey;
  /** Attempts per request, the first included (the SDK's own setting: AWS_MAX_ATTEMPTS, 6 by default here). */
  maxAttempts: number;
}

/** Environment variables that change how the SDK reaches or signs for S3: with any of them set, the SDK decides. */
const SDK_ONLY_ENV = [
  "AWS_USE_FIPS_ENDPOINT",
  "AWS_USE_DUALSTACK_ENDPOINT",
  "AWS_DEFAULTS_MODE",
  "AWS_S3_US_EAST_1_REGIONAL_ENDPOINT",
  "AWS_S3_DISABLE_MULTIREGION_ACCESS_POINTS",
  "AWS_SIGV4A_SIGNING_REGION_SET",
  "AWS_AUTH_SCHEME_PREFERENCE",
  "AWS_REQUEST_CHECKSUM_CALCULATION",
  "AWS_RESPONSE_CHECKSUM_VALIDATION",
];

/** Profile settings that need nothing the light client lacks; any other (role_arn, sso_*, credential_process, s3, endpoint_url…) defers to the SDK. */
const PLAIN_PROFILE_KEYS = new Set(["aws_access_key_id", "aws_secret_access_key", "aws_session_token", "region", "output"]);

export async function plainS3Settings(bucket: string, env: NodeJS.ProcessEnv = process.env): Promise<S3Settings | undefined> {
  if (SDK_ONLY_ENV.some((name) => env[name] !== undefined && env[name] !== "")) return undefined;
  if (env.AWS_RETRY_MODE && env.AWS_RETRY_MODE !== "standard") return undefined;
  const profileName = env.AWS_PROFILE || "default";
  const home = env.HOME || homedir();
  const [config, credentials] = await Promise.all([
    readProfile(env.AWS_CONFIG_FILE || join(home, ".aws", "config"), profileName, "config"),
    readProfile(env.AWS_SHARED_CREDENTIALS_FILE || join(home, ".aws", "credentials"), profileName, "credentials"),
  ]);
  if (config === "unreadable" || credentials === "unreadable") return undefined;
  for (const name of [...config.keys(), ...credentials.keys()]) {
    // The AWS CLI's own settings (cli_pager, cli_timestamp_format…) do not reach the SDK.
    if (!PLAIN_PROFILE_KEYS.has(name) && !name.startsWith("cli_")) return undefined;
  }
  const key = !env.AWS_PROFILE && env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY ? envKey(env) : profileKey(credentials, config);
  const region = env.AWS_REGION || credentials.get("region") || config.get("region");
  if (!key || !region) return undefined;
  const maxAttempts = env.AWS_MAX_ATTEMPTS ? Number(env.AWS_MAX_ATTEMPTS) : 6;
  if (!Number.isInteger(maxAttempts) || maxAttempts < 1) return undefined;
  const custom = env.AWS_ENDPOINT_URL_S3 || env.AWS_ENDPOINT_URL;
  if (custom) {
    let endpoint: URL;
    try {
      endpoint = new URL(custom);
    } catch {
      return undefined;
    }
    if ((endpoint.protocol !== "http:" && endpoint.protocol !== "https:") || endpoint.search || endpoint.username) return undefined;
    return { region, endpoint, pathStyle: true, configuredEndpoint: true, key, maxAttempts };
  }
  const suffix = dnsSuffix(region);
  if (!suffix) return undefined;
  // A directory bucket (S3 Express One Zone) has endpoints and sessions of its own.
  if (bucket.endsWith("--x-s3")) return undefined;
  // Virtual-hosted requests unless the bucket cannot be a host name under TLS (dots, capitals): the SDK's choice.
  const virtual = /^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/.test(bucket);
  const host = virtual ? `${bucket}.s3.${region}.${suffix}` : `s3.${region}.${suffix}`;
  return { region, endpoint: new URL(`https://${host}`), pathStyle: !virtual, configuredEndpoint: false, key, maxAttempts };
}

/** The partition's domain of an AWS region the light client knows how to address (commercial, GovCloud, China). */
function dnsSuffix(region: string): string | undefined {
  if (/^cn-[a-z]+-\d+$/.test(region)) return "amazonaws.com.cn";
  if (/^(us|eu|ap|sa|ca|me|af|il|mx)(-gov)?-[a-z]+-\d+$/.test(region)) return "amazonaws.com";
  return undefined;
}

function envKey(env: NodeJS.ProcessEnv): SigningKey {
  return {
    accessKeyId: env.AWS_ACCESS_KEY_ID!,
    secretAccessKey: env.AWS_SECRET_ACCESS_KEY!,
    ...(env.AWS_SESSION_TOKEN ? { sessionToken: env.AWS_SESSION_TOKEN } : {}),
  };
}

/** The profile's static key; the credentials file wins over the config file, setting by setting, as in the SDK. */
function profileKey(credentials: Map<string, string>, config: Map<string, string>): SigningKey | undefined {
  const get = (name: string) => credentials.get(name) ?? config.get(name);
  const accessKeyId = get("aws_access_key_id");
  const secretAccessKey = get("aws_secret_access_key");
  const sessionToken = get("aws_session_token");
  return accessKeyId && secretAccessKey ? { accessKeyId, secretAccessKey, ...(sessionToken ? { sessionToken } : {}) } : undefined;
}

/**
 * One profile's settings from a shared file: `[name]` in the credentials file, `[profile name]` (or
 * `[default]`) in the config file. An indented line continues a setting (a sub-section such as `s3 =`),
 * recorded under its parent's name. A missing file is an empty one.
 */
async function readProfile(path: string, profile: string, kind: "config" | "credentials"): Promise<Map<string, string> | "unreadable"> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "ENOENT" ? new Map() : "unreadable";
  }
  return parseProfileSection(text, profile, kind);
}

export function parseProfileSection(text: string, profile: string, kind: "config" | "credentials"): Map<string, string> {
  const wanted = kind === "credentials" ? [profile] : profile === "default" ? ["default", "profile default"] : [`profile ${profile}`];
  const values = new Map<string, string>();
  let inside = false;
  let parent: string | undefined;
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.replace(/^\s*[#;].*$/, "");
    if (line.trim() === "") continue;
    const section = /^\s*\[([^\]]*)\]/.exec(line);
    if (section) {
      inside = wanted.includes(section[1]!.trim().replace(/\s+/g, " "));
      parent = undefined;
      continue;
    }
    if (!inside) continue;
    const equals = line.indexOf("=");
    if (/^\s/.test(raw) && parent !== undefined) {
      values.set(parent, `${values.get(parent) ?? ""}\n${line.trim()}`);
      continue;
    }
    if (equals <= 0) continue;
    parent = line.slice(0, equals).trim().toLowerCase();
    values.set(parent, line.slice(equals + 1).trim());
  }
  return values;
}
