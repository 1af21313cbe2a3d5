import { randomUUID } from "node:crypto";
import type { FauxqsParts } from "./fauxqs-internals.ts";

/**
 * Secrets Manager's GetSecretValue, which fauxqs lacks, on the local cloud's endpoint: enough for the real
 * XMPP function to fetch its credentials through the AWS SDK exactly as on Lambda. The local cloud puts
 * secrets in (they live in memory only); nothing else can write them.
 */
export interface LocalSecrets {
  /** Stores `value` under `name`; returns the secret's ARN. */
  put(name: string, value: string): string;
  /** A new current version of an existing secret (a stack update that changed its value); false when there is none. */
  update(arn: string, value: string): boolean;
  /** How many GetSecretValue calls were answered (tests check the function's cache with it). */
  readonly reads: number;
}

export function installSecretsManager({ app }: FauxqsParts, options: { region: string }): LocalSecrets {
  const secrets = new Map<string, { arn: string; name: string; value: string; versionId: string; created: number }>();
  let reads = 0;

  app.addHook("preHandler", (request, reply, done) => {
    const target = request.headers["x-amz-target"];
    if (request.method !== "POST" || typeof target !== "string" || !target.startsWith("secretsmanager.")) return done();
    const fail = (status: number, type: string, message: string) =>
      void reply
        .code(status)
        .header("content-type", "application/x-amz-json-1.1")
        .header("x-amzn-errortype", type)
        .send(JSON.stringify({ __type: type, message }));
    if (target !== "secretsmanager.GetSecretValue") {
      return fail(400, "NotImplemented", `cloudbridge local implements only GetSecretValue, not ${target.slice(15)}.`);
    }
    let secretId: unknown;
    try {
      secretId = (JSON.parse(Buffer.from(request.body as Buffer).toString("utf8")) as { SecretId?: unknown }).SecretId;
    } catch {
      return fail(400, "InvalidRequestException", "The request body is not JSON.");
    }
    const secret =
      typeof secretId === "string" ? (secrets.get(secretId) ?? [...secrets.values()].find((s) => s.arn === secretId)) : undefined;
    if (!secret) return fail(400, "ResourceNotFoundException", "Secrets Manager can't find the specified secret.");
    reads += 1;
    void reply
      .code(200)
      .header("content-type", "application/x-amz-json-1.1")
      .send(
        JSON.stringify({
          ARN: secret.arn,
          Name: secret.name,
          SecretString: secret.value,
          VersionId: secret.versionId,
          VersionStages: ["AWSCURRENT"],
          CreatedDate: secret.created,
        }),
      );
  });

  return {
    put(name, value) {
      const arn = `arn:aws:secretsmanager:${options.region}:000000000000:secret:${name}-${randomUUID().slice(0, 6)}`;
      secrets.set(name, { arn, name, value, versionId: randomUUID(), created: Date.now() / 1000 });
      return arn;
    },
    update(arn, value) {
      const secret = [...secrets.values()].find((s) => s.arn === arn);
      if (!secret) return false;
      Object.assign(secret, { value, versionId: randomUUID() });
      return true;
    },
    get reads() {
      return reads;
    },
  };
}
