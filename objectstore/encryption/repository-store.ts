import { createHash } from "node:crypto";
import { mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { BucketLayout } from "../../protocol/index.ts";
import { ObjectStoreError, type MultipartStore, type ObjectStore } from "../object-store.ts";
import { isSealedBody } from "./chunked-cipher.ts";
import { EncryptedStore } from "./encrypted-store.ts";
import { MissingRepositoryKey } from "./errors.ts";
import { identityPath, loadIdentity, readIdentitySecret, type MachineIdentity } from "./identity.ts";
import { MAX_KEYRING_BYTES, parseKeyring, readKeyring, unlockKeyring, type RepositoryKeys, type StoredKeyring } from "./keyring.ts";
import { NameCipher } from "./name-cipher.ts";

/**
 * Whether the repository's objects are sealed, asked without a key and without reading `keys/`: its `HEAD`
 * starts with the encrypted-object header (the compaction function, which may read only `repos/`, asks this).
 */
export async function isEncryptedRepository(store: ObjectStore, layout: BucketLayout, repo: string): Promise<boolean> {
  const head = await store.get(layout.head(repo), { maxBytes: 1024 }).catch(() => undefined);
  return head !== undefined && head !== "not-modified" && isSealedBody(head.body);
}

/**
 * Whether a repository is encrypted: the one answer every opener uses (a synced folder, the daemon, the CLI,
 * the remote helper, `cloudbridge compact`, `clone`). `recorded` is what a git repository recorded at `init`
 * or `clone` (`cloudbridge.encrypted`); undefined where nothing was recorded (a plain `git clone
 * cloudbridge::…`, `compact URL`, a folder made before the setting existed), and then the bucket decides:
 * a repository is encrypted when its key ring (`keys/<repo>/keyring.json`) is there. When the record and the
 * bucket disagree, the record wins, and never towards clear:
 *
 * - recorded clear: the bucket is not asked (a clear folder works offline); a key ring that appeared since
 *   changes nothing for this folder.
 * - recorded encrypted, no key ring in the bucket: refused (`invalid-keyring`), so that nothing is read or
 *   written in clear because the key ring was deleted.
 *
 * Returns the key ring read (to unwrap) for an encrypted repository, undefined for a clear one.
 */
export async function repositoryEncryption(
  store: ObjectStore,
  layout: BucketLayout,
  repo: string,
  recorded: boolean | undefined,
): Promise<StoredKeyring | undefined> {
  if (recorded === false) return undefined;
  const stored = await readKeyring(store, layout, repo);
  if (!stored && recorded === true) {
    const key = layout.keyring(repo);
    throw new ObjectStoreError(
      "invalid-keyring",
      key,
      `s3://${store.bucket}/${layout.repoRoot(repo)} is encrypted, but its key ring ${key} is missing from the bucket: nothing is read or written in clear. Restore it from the bucket's versions (or a machine's backup), then try again.`,
    );
  }
  return stored;
}

export interface RepositoryStoreOptions {
  /** What the git repository recorded (`cloudbridge.encrypted`); undefined: the bucket decides (repositoryEncryption). */
  recorded?: boolean | undefined;
  /** This machine's identity, or how to get it; by default its identity file. */
  machine?: MachineIdentity | (() => Promise<MachineIdentity | undefined>);
}

/**
 * The store to use for one repository: `store` itself for a clear repository; for an encrypted one, an
 * EncryptedStore holding the keys this machine's identity unwraps. Which it is, repositoryEncryption says.
 * A machine without the keys is refused in one sentence that says what to do. The identity is read (by
 * default from its file) only for an encrypted repository, and the keys it unwrapped from one version of
 * the key ring are kept beside it (`repository-keys/`, mode 0600: no more secret than the identity file
 * itself), so the ~20 MiB of age's code are loaded only when the key ring changed.
 */
export async function repositoryStore<S extends ObjectStore & MultipartStore>(
  store: S,
  layout: BucketLayout,
  repo: string,
  options: RepositoryStoreOptions = {},
): Promise<S | EncryptedStore> {
  const { machine } = options;
  const stored = await repositoryEncryption(store, layout, repo, options.recorded);
  if (!stored) return store;
  const where = `s3://${store.bucket}/${layout.repoRoot(repo)}`;
  const cache = async (): Promise<KeyCache | undefined> => {
    const secret = machine === undefined ? await readIdentitySecret() : typeof machine === "function" ? undefined : machine.identity;
    const path = machine === undefined ? identityPath() : typeof machine === "function" ? undefined : machine.path;
    return secret && path
      ? new KeyCache(join(dirname(path), "repository-keys"), secret, `${store.bucket}\0${layout.prefix}\0${repo}`)
      : undefined;
  };
  const keyCache = await cache();
  const unlock = async (ring: StoredKeyring): Promise<RepositoryKeys> => {
    const cached = await keyCache?.read(ring.etag);
    if (cached) return cached;
    const identity = typeof machine === "function" ? await machine() : (machine ?? (await loadIdentity()));
    if (!identity) {
      throw new MissingRepositoryKey(
        where,
        `${where} is encrypted and this machine has no identity (${identityPath()}): run \`cloudbridge key show\` here, then \`cloudbridge key add <its public key>\` on a machine that syncs the repository.`,
      );
    }
    const keys = await unlockKeyring(ring.file, identity, where);
    await keyCache?.write(ring.etag, keys);
    return keys;
  };
  let current = stored;
  let keys = await unlock(current);
  return new EncryptedStore(store, layout, repo, keys, async () => {
    // One conditional GET: unchanged, the keys stay; changed, they are unwrapped again (or this machine is refused).
    const again = await store.get(layout.keyring(repo), { ifNoneMatch: current.etag, maxBytes: MAX_KEYRING_BYTES });
    if (again === "not-modified") return keys;
    if (!again)
      throw new MissingRepositoryKey(
        where,
        `${where}: its key ring is gone from the bucket; restore keys/${repo}/keyring.json from the bucket's versions.`,
      );
    current = { file: parseKeyring(again.body, layout.keyring(repo)), etag: again.etag };
    keys = await unlock(current);
    return keys;
  });
}

/** Data keys this machine unwrapped, per key ring version, in one file per repository named by a hash of the identity and the repository. */
class KeyCache {
  private readonly file: string;
  constructor(dir: string, secret: string, repository: string) {
    this.file = join(dir, `${createHash("sha256").update(`${secret}\0${repository}`).digest("hex").slice(0, 40)}.json`);
  }

  async read(etag: string): Promise<RepositoryKeys | undefined> {
    try {
      const cached = JSON.parse(await readFile(this.file, "utf8")) as {
        etag: string;
        current: number;
        generations: Record<string, string>;
      };
      if (cached.etag !== etag) return undefined;
      const generations = new Map(Object.entries(cached.generations).map(([id, key]) => [Number(id), Buffer.from(key, "base64")]));
      const first = generations.get(1);
      if (!first || !generations.has(cached.current)) return undefined;
      return { generations, current: cached.current, names: new NameCipher(first) };
    } catch {
      return undefined; // none yet, or damaged: unwrap again
    }
  }

  async write(etag: string, keys: RepositoryKeys): Promise<void> {
    const body = {
      etag,
      current: keys.current,
      generations: Object.fromEntries([...keys.generations].map(([id, key]) => [id, key.toString("base64")])),
    };
    const temporary = `${this.file}.${process.pid}.tmp`;
    try {
      await mkdir(dirname(this.file), { recursive: true, mode: 0o700 });
      await writeFile(temporary, JSON.stringify(body), { mode: 0o600 });
      await rename(temporary, this.file);
    } catch {
      await rm(temporary, { force: true }); // a cache only: the next run unwraps again
    }
  }
}
