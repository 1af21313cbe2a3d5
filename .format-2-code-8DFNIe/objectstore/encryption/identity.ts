import { chmod, mkdir, readFile, writeFile } from "node:fs/promises";
import { homedir } from "node:os";
import { dirname, join } from "node:path";

/**
 * This machine's X25519 identity (age format): the private key that unwraps the data keys of the encrypted
 * repositories it was added to. It lives in one file on this machine (mode 0600) and is never sent
 * anywhere: `CLOUDBRIDGE_IDENTITY`, or `$XDG_CONFIG_HOME/cloudbridge/identity.txt` (~/.config/…).
 */
export interface MachineIdentity {
  /** AGE-SECRET-KEY-1… (secret: never logged or printed). */
  readonly identity: string;
  /** age1…, what the key ring names this machine by (public). */
  readonly recipient: string;
  readonly path: string;
}

export function identityPath(env: NodeJS.ProcessEnv = process.env): string {
  if (env.CLOUDBRIDGE_IDENTITY) return env.CLOUDBRIDGE_IDENTITY;
  return join(env.XDG_CONFIG_HOME || join(homedir(), ".config"), "cloudbridge", "identity.txt");
}

/** This machine's identity; with `create`, made on first use. Undefined when there is none and `create` is not set. */
export async function loadIdentity(options: { create?: boolean; path?: string } = {}): Promise<MachineIdentity | undefined> {
  const path = options.path ?? identityPath();
  let text: string | undefined;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
  if (text === undefined) {
    if (!options.create) return undefined;
    const age = await import("age-encryption");
    const identity = await age.generateX25519Identity();
    const recipient = await age.identityToRecipient(identity);
    await mkdir(dirname(path), { recursive: true, mode: 0o700 });
    // wx: two processes creating it at once keep the first one's key.
    await writeFile(path, `# cloudbridge machine identity: keep it secret; public key ${recipient}\n${identity}\n`, {
      mode: 0o600,
      flag: "wx",
    }).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== "EEXIST") throw error;
    });
    await chmod(path, 0o600);
    return loadIdentity({ path });
  }
  const identity = secretOf(text, path);
  return { identity, recipient: await (await import("age-encryption")).identityToRecipient(identity), path };
}

/** The secret key alone (no age code loaded): enough to find this machine's cached repository keys. */
export async function readIdentitySecret(path = identityPath()): Promise<string | undefined> {
  try {
    return secretOf(await readFile(path, "utf8"), path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
}

function secretOf(text: string, path: string): string {
  const identity = text.split("\n").find((line) => line.startsWith("AGE-SECRET-KEY-1"));
  if (!identity)
    throw new Error(`${path} holds no age identity (a line AGE-SECRET-KEY-1…): restore it, or move it away to make a new one.`);
  return identity.trim();
}
