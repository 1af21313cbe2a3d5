import { getConfig } from "../localgit/index.ts";

/** Where `cloudbridge init` and `clone` record whether the repository is encrypted (docs/encryption.md). */
export const ENCRYPTED_SETTING = "cloudbridge.encrypted";

/**
 * What a git repository recorded about its repository's encryption: true, false, or undefined when
 * nothing was recorded (a plain `git clone cloudbridge::…`, where the bucket decides). What to make of
 * it, and of a bucket that disagrees, is objectstore's repositoryEncryption.
 */
export async function recordedEncryption(gitDir: string, config?: ReadonlyMap<string, readonly string[]>): Promise<boolean | undefined> {
  // `config`: the repository's settings as readConfig read them (one git process for several settings).
  const value = (config ? config.get(ENCRYPTED_SETTING)?.at(-1) : await getConfig(gitDir, ENCRYPTED_SETTING))?.toLowerCase();
  if (value === undefined || value === "") return undefined;
  if (["true", "yes", "on", "1"].includes(value)) return true;
  if (["false", "no", "off", "0"].includes(value)) return false;
  throw new Error(
    `${ENCRYPTED_SETTING} is ${JSON.stringify(value)} in ${gitDir}: it must be true or false (what \`cloudbridge init\` or \`clone\` recorded).`,
  );
}
