import { CloudAccessError } from "./access-errors.ts";
import { readProfile, sharedFilePaths, sharedFilesVersion, staticKey } from "./aws-profiles.ts";
import type { SigningKey } from "./sigv4.ts";

/**
 * The key of a named profile a folder signs with (`cloudbridge.profile`: the agent's own key, which
 * onboarding writes into the credentials file), whatever AWS_PROFILE or AWS_ACCESS_KEY_ID say. Read again
 * whenever the shared files change (a rotated key written by a daemon or a person), so every client of a
 * long-running process signs with the newest key without being rebuilt. Only a static key: the profile is
 * one cloudbridge wrote, or one a person wrote for it.
 */
export type CredentialsProvider = () => Promise<SigningKey & { expiration: Date }>;

/** Why the profile gives no key, in words that say what to do. */
export function profileKeyMissing(profile: string, env: NodeJS.ProcessEnv = process.env): CloudAccessError {
  const { credentials } = sharedFilePaths(env);
  return new CloudAccessError(
    "no-credentials",
    `The profile ${profile} (cloudbridge.profile in this repository's git config) has no access key in ${credentials}: ` +
      `an onboarded machine gets it back with \`cloudbridge init --stack …\` or \`--invite FILE\`; otherwise add ` +
      `[${profile}] with aws_access_key_id and aws_secret_access_key there, or name another profile ` +
      `(\`git config cloudbridge.profile NAME\`, or \`git config --unset cloudbridge.profile\` to use AWS_PROFILE or the environment's key).`,
  );
}

/** The profile's static key now, read from the shared files; a clear error when it has none. */
export async function readProfileKey(profile: string, env: NodeJS.ProcessEnv = process.env): Promise<SigningKey> {
  const found = await readProfile(profile, env);
  const key = found === "unreadable" ? undefined : staticKey(found);
  if (!key) throw profileKeyMissing(profile, env);
  return key;
}

class ProfileKeySource {
  private key: SigningKey | undefined;
  private version = "";
  private checkedAt = 0;
  private readonly profile: string;

  constructor(profile: string) {
    this.profile = profile;
  }

  async current(): Promise<SigningKey> {
    const now = Date.now();
    // One stat a second at most: a request costs a memory read, and a rewritten file is seen within a second.
    if (!this.key || now - this.checkedAt >= 1000) {
      this.checkedAt = now;
      const version = await sharedFilesVersion();
      if (!this.key || version !== this.version) {
        this.key = undefined;
        this.key = await readProfileKey(this.profile);
        this.version = version;
      }
    }
    return this.key;
  }

  forget(): void {
    this.checkedAt = 0;
    this.version = "";
  }
}

const sources = new Map<string, ProfileKeySource>();

/** The one reader of `profile`'s key in this process (a rotation forgets what it read: `forget`). */
export function profileKeySource(profile: string): { current(): Promise<SigningKey>; forget(): void } {
  let source = sources.get(profile);
  if (!source) sources.set(profile, (source = new ProfileKeySource(profile)));
  return source;
}

/**
 * The AWS SDK's `credentials` for a profile. The identity says it expires now, so the SDK asks again for
 * each request (its memoization refreshes expiring identities) and a rewritten profile takes effect at once.
 */
export function profileCredentials(profile: string): CredentialsProvider {
  const source = profileKeySource(profile);
  return async () => ({ ...(await source.current()), expiration: new Date() });
}
