import type { SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { CONNECT_TIMEOUT_MS, IDLE_TIMEOUT_MS, KEY_REFUSED, profileCredentials, profileKeySource } from "../../objectstore/index.ts";
import type { Logger } from "../log.ts";
import { writeProfileKey, type AccessKey } from "./profile-file.ts";

/** Whether AWS refused the key a request was signed with (unknown, unverifiable, or an expired session's): another key may cure it. */
export function isAuthFailure(error: unknown): boolean {
  for (let e = error as { name?: string; Code?: string; cause?: unknown } | undefined; e; e = e.cause as typeof e) {
    if (KEY_REFUSED.has(e.name ?? "") || KEY_REFUSED.has(e.Code ?? "")) return true;
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
  /** Made at the first check, with its module: a process that only imports this file (isAuthFailure, parseKey) never loads it. */
  private client: SecretsManagerClient | undefined;
  private running: Promise<boolean> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  checks = 0;

  constructor(options: KeyPickupOptions) {
    this.options = options;
  }

  /** True when the profile now holds another key than before. */
  check(): Promise<boolean> {
    this.running ??= this.pickUp().finally(() => (this.running = undefined));
    return this.running;
  }

  private async pickUp(): Promise<boolean> {
    const { profile, secretArn, log } = this.options;
    this.checks += 1;
    const source = profileKeySource(profile);
    const current = await source.current();
    const { GetSecretValueCommand, SecretsManagerClient } = await import("@aws-sdk/client-secrets-manager");
    if (this.stopped) return false;
    const { region, endpoint } = this.options;
    this.client ??= new SecretsManagerClient({
      ...(region ? { region } : {}),
      ...(endpoint ? { endpoint } : {}),
      credentials: profileCredentials(profile),
      requestHandler: { connectionTimeout: CONNECT_TIMEOUT_MS, socketTimeout: IDLE_TIMEOUT_MS },
    });
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
    this.stopped = true;
    clearInterval(this.timer);
    this.client?.destroy();
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
