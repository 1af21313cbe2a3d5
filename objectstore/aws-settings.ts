import { profileName, readProfile, staticKey } from "./aws-profiles.ts";
import { assertEndpointUrl, isLoopbackEndpoint, LOCAL_CLOUD_CREDENTIALS } from "../protocol/core.ts";
import { readProfileKey } from "./profile-credentials.ts";
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
 *   S3's regional endpoint;
 * - over all of these, the repository's own settings (`access`: cloudbridge.endpoint, .region, .profile),
 *   applied as awsClientConfig applies them to the SDK (bucket-client.ts). A profile named there that holds
 *   no key is an error saying what to do, not a reason to sign with another key.
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

/**
 * How a repository reaches its bucket, as its git config says (cloudbridge.endpoint, cloudbridge.region,
 * cloudbridge.profile): the agent's folders and the remote helper git runs in them apply these one way,
 * here. Each undefined: the environment's (the SDK's own resolution).
 */
export interface BucketAccess {
  /** An S3-compatible endpoint (the local cloud); over AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL. */
  endpoint?: string | undefined;
  /** The bucket's region; over AWS_REGION and the profile's. */
  region?: string | undefined;
  /** The named profile holding this agent's own key (onboarding sets it); over AWS_PROFILE and the environment's key. */
  profile?: string | undefined;
}

/** The environment variables that name credentials of the process's own: with none, a loopback endpoint gets the local cloud's. */
function ownCredentials(env: NodeJS.ProcessEnv): boolean {
  return Boolean(env.AWS_ACCESS_KEY_ID || env.AWS_PROFILE || env.AWS_WEB_IDENTITY_TOKEN_FILE);
}

/**
 * The endpoint in force: the repository's (checked by whoever read it, who knows the setting's name), else
 * the environment's, checked here: a malformed AWS_ENDPOINT_URL is said as such before any request.
 */
export function accessEndpoint(access: BucketAccess, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (access.endpoint) return access.endpoint;
  const name = env.AWS_ENDPOINT_URL_S3 ? "AWS_ENDPOINT_URL_S3" : env.AWS_ENDPOINT_URL ? "AWS_ENDPOINT_URL" : undefined;
  return name ? assertEndpointUrl(env[name]!, `the environment's ${name}`) : undefined;
}

/**
 * The region when the SDK's own resolution must not decide: the repository's, else us-east-1 for an
 * endpoint of its own (S3-compatible, the local cloud) when the environment names none, which such endpoints
 * accept (a folder made before the region was stored must not fail with "Region is missing").
 */
export function accessRegion(access: BucketAccess, env: NodeJS.ProcessEnv = process.env): string | undefined {
  return access.region || (accessEndpoint(access, env) && !(env.AWS_REGION || env.AWS_DEFAULT_REGION) ? "us-east-1" : undefined);
}

/** The local cloud's public key, for a loopback endpoint when the environment names no credentials of its own. */
export function localCloudKey(access: BucketAccess, env: NodeJS.ProcessEnv = process.env): SigningKey | undefined {
  const endpoint = accessEndpoint(access, env);
  return endpoint && isLoopbackEndpoint(endpoint) && !ownCredentials(env) ? { ...LOCAL_CLOUD_CREDENTIALS } : undefined;
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

export async function plainS3Settings(
  bucket: string,
  env: NodeJS.ProcessEnv = process.env,
  access: BucketAccess = {},
): Promise<S3Settings | undefined> {
  // The repository's profile is its key whatever else holds (the SDK gets it the same way: accessCredentials).
  const imposed = access.profile ? await readProfileKey(access.profile, env) : localCloudKey(access, env);
  if (SDK_ONLY_ENV.some((name) => env[name] !== undefined && env[name] !== "")) return undefined;
  if (env.AWS_RETRY_MODE && env.AWS_RETRY_MODE !== "standard") return undefined;
  // The SDK reads AWS_PROFILE's profile for every other setting, whichever key it signs with.
  const profile = await readProfile(profileName(env), env);
  if (profile === "unreadable") return undefined;
  for (const name of profile.names()) {
    // The AWS CLI's own settings (cli_pager, cli_timestamp_format…) do not reach the SDK.
    if (!PLAIN_PROFILE_KEYS.has(name) && !name.startsWith("cli_")) return undefined;
  }
  const key = imposed ? imposed : !env.AWS_PROFILE && env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY ? envKey(env) : staticKey(profile);
  const region = accessRegion(access, env) || env.AWS_REGION || profile.get("region");
  if (!key || !region) return undefined;
  const maxAttempts = env.AWS_MAX_ATTEMPTS ? Number(env.AWS_MAX_ATTEMPTS) : 6;
  if (!Number.isInteger(maxAttempts) || maxAttempts < 1) return undefined;
  const custom = accessEndpoint(access, env);
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
