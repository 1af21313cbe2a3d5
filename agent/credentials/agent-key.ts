import { GetSecretValueCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { CONNECT_TIMEOUT_MS, IDLE_TIMEOUT_MS } from "../../objectstore/index.ts";
import type { Logger } from "../log.ts";
import { credentialsFilePath, credentialsFileVersion, readProfileKey, writeProfileKey, type AccessKey } from "./profile-file.ts";

/**
 * The key an onboarded agent runs with: its named profile, read from the shared credentials file and read
 * again whenever the file changes (a rotated key written by this process, another daemon or a person), so
 * every client of the process signs with the newest key without being rebuilt or restarted.
 */
export type CredentialsProvider = () => Promise<AccessKey & { expiration: Date }>;

class ProfileKeySource {
  private key: AccessKey | undefined;
  private version = -1;
  private checkedAt = 0;
  private readonly profile: string;

  constructor(profile: string) {
    this.profile = profile;
  }

  async current(): Promise<AccessKey> {
    const now = Date.now();
    // One stat a second at most: a request costs a memory read, and a rewritten file is seen within a second.
    if (!this.key || now - this.checkedAt >= 1000) {
      this.checkedAt = now;
      const path = credentialsFilePath();
      const version = await credentialsFileVersion(path);
      if (!this.key || version !== this.version) {
        this.key = await readProfileKey(this.profile, path);
        this.version = version;
      }
      if (!this.key) {
        throw new Error(
          `the profile ${this.profile} is not in ${path}: onboard this machine again (\`cloudbridge init --stack …\` or \`--invite FILE\`).`,
        );
      }
    }
    return this.key;
  }

  forget(): void {
    this.checkedAt = 0;
    this.version = -1;
  }
}

const sources = new Map<string, ProfileKeySource>();

function sourceFor(profile: string): ProfileKeySource {
  let source = sources.get(profile);
  if (!source) sources.set(profile, (source = new ProfileKeySource(profile)));
  return source;
}

/**
 * The AWS SDK's `credentials` for a profile. The identity says it expires now, so the SDK asks again for
 * each request (its memoization refreshes expiring identities) and a rewritten profile takes effect at once.
 */
export function profileCredentials(profile: string): CredentialsProvider {
  const source = sourceFor(profile);
  return async () => ({ ...(await source.current()), expiration: new Date() });
}

/** The error names AWS gives a request signed with a key it does not know (any more) or cannot verify. */
const AUTH_FAILURES = new Set([
  "InvalidAccessKeyId",
  "InvalidClientTokenId",
  "UnrecognizedClientException",
  "SignatureDoesNotMatch",
  "AuthFailure",
]);

export function isAuthFailure(error: unknown): boolean {
  for (let e = error as { name?: string; Code?: string; cause?: unknown } | undefined; e; e = e.cause as typeof e) {
    if (AUTH_FAILURES.has(e.name ?? "") || AUTH_FAILURES.has(e.Code ?? "")) return true;
  }
  return false;
}

export interface KeyPickupOptions {
  profile: string;
  /** The agent's secret (the stack's `Agent<Name>CredentialsSecretArn`), which its own key may read. */
  secretArn: string;
  region: string | undefined;
  endpoint: string | undefined;
  log: Logger;
}

/**
 * Picks up a rotated key. The stack keeps two keys during a rotation (the previous one stays active), and
 * the agent's key may read its own secret, so the daemon reads the secret with the key it has, and when
 * the secret holds another key it rewrites its profile: every client switches at its next request. Runs
 * periodically and after an authentication failure; one check at a time.
 */
export class KeyPickup {
  private readonly options: KeyPickupOptions;
  private readonly client: SecretsManagerClient;
  private running: Promise<boolean> | undefined;
  private timer: NodeJS.Timeout | undefined;
  checks = 0;

  constructor(options: KeyPickupOptions) {
    this.options = options;
    this.client = new SecretsManagerClient({
      ...(options.region ? { region: options.region } : {}),
      ...(options.endpoint ? { endpoint: options.endpoint } : {}),
      credentials: profileCredentials(options.profile),
      requestHandler: { connectionTimeout: CONNECT_TIMEOUT_MS, socketTimeout: IDLE_TIMEOUT_MS },
    });
  }

  /** True when the profile now holds another key than before. */
  check(): Promise<boolean> {
    this.running ??= this.pickUp().finally(() => (this.running = undefined));
    return this.running;
  }

  private async pickUp(): Promise<boolean> {
    const { profile, secretArn, log } = this.options;
    this.checks += 1;
    const source = sourceFor(profile);
    const current = await source.current();
    const { SecretString } = await this.client.send(new GetSecretValueCommand({ SecretId: secretArn }));
    const stored = parseKey(SecretString);
    if (!stored) throw new Error(`the agent's secret ${secretArn} does not hold an access key {"accessKeyId","secretAccessKey"}`);
    if (stored.accessKeyId === current.accessKeyId && stored.secretAccessKey === current.secretAccessKey) return false;
    await writeProfileKey(profile, stored);
    source.forget();
    // The key's id only, shortened: never its secret.
    log("info", "key.rotated", { profile, from: keyHint(current.accessKeyId), to: keyHint(stored.accessKeyId) });
    return true;
  }

  /**
   * Checks now (a rotation may have happened while this machine was off) and every `intervalMs` until
   * stopped; a failed check is logged and tried again at the next.
   */
  start(intervalMs: number): void {
    const tick = () => {
      this.check().catch((error: unknown) =>
        this.options.log("warn", "key.check-failed", { profile: this.options.profile, message: (error as Error).message }),
      );
    };
    tick();
    this.timer = setInterval(tick, intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.client.destroy();
  }
}

export function parseKey(text: string | undefined): AccessKey | undefined {
  try {
    const value = JSON.parse(text ?? "") as Partial<AccessKey>;
    return typeof value.accessKeyId === "string" && typeof value.secretAccessKey === "string" && value.accessKeyId && value.secretAccessKey
      ? { accessKeyId: value.accessKeyId, secretAccessKey: value.secretAccessKey }
      : undefined;
  } catch {
    return undefined;
  }
}

function keyHint(accessKeyId: string): string {
  return `…${accessKeyId.slice(-4)}`;
}
