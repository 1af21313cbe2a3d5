import type { BucketLayout } from "../../protocol/index.ts";
import type { MultipartStore, ObjectStore } from "../object-store.ts";
import { isSealedBody } from "./chunked-cipher.ts";
import { EncryptedStore } from "./encrypted-store.ts";
import { MissingRepositoryKey } from "./errors.ts";
import { identityPath, loadIdentity, type MachineIdentity } from "./identity.ts";
import { readKeyring, unlockKeyring } from "./keyring.ts";

/**
 * Whether the repository's objects are sealed, asked without a key and without reading `keys/`: its `HEAD`
 * starts with the encrypted-object header (the compaction function, which may read only `repos/`, asks this).
 */
export async function isEncryptedRepository(store: ObjectStore, layout: BucketLayout, repo: string): Promise<boolean> {
  const head = await store.get(layout.head(repo), { maxBytes: 1024 }).catch(() => undefined);
  return head !== undefined && head !== "not-modified" && isSealedBody(head.body);
}

/**
 * The store to use for one repository: `store` itself for a clear repository; for an encrypted one, an
 * EncryptedStore holding the keys this machine's identity unwraps. A machine without them is refused in
 * one sentence that says what to do. The identity is loaded (by default from its file) only for an
 * encrypted repository.
 */
export async function repositoryStore<S extends ObjectStore & MultipartStore>(
  store: S,
  layout: BucketLayout,
  repo: string,
  machine: MachineIdentity | undefined | (() => Promise<MachineIdentity | undefined>) = () => loadIdentity(),
): Promise<S | EncryptedStore> {
  const stored = await readKeyring(store, layout, repo);
  if (!stored) return store;
  const identity = typeof machine === "function" ? await machine() : machine;
  const where = `s3://${store.bucket}/${layout.repoRoot(repo)}`;
  if (!identity) {
    throw new MissingRepositoryKey(
      where,
      `${where} is encrypted and this machine has no identity (${identityPath()}): run \`cloudbridge key show\` here, then \`cloudbridge key add <its public key>\` on a machine that syncs the repository.`,
    );
  }
  const keys = await unlockKeyring(stored.file, identity, where);
  return new EncryptedStore(store, layout, repo, keys, async () => {
    const again = await readKeyring(store, layout, repo);
    if (!again)
      throw new MissingRepositoryKey(
        where,
        `${where}: its key ring is gone from the bucket; restore keys/${repo}/keyring.json from the bucket's versions.`,
      );
    return unlockKeyring(again.file, identity, where);
  });
}
