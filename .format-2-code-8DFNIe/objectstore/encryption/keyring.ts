import { randomBytes } from "node:crypto";
import type { BucketLayout } from "../../protocol/index.ts";
import { ObjectStoreError, PreconditionFailed, type ObjectStore } from "../object-store.ts";
import { MissingRepositoryKey } from "./errors.ts";
import type { MachineIdentity } from "./identity.ts";
import { NameCipher } from "./name-cipher.ts";

/**
 * `keys/<repo>/keyring.json`: the data keys of an encrypted repository, one per generation, each wrapped
 * (age format, X25519) for every machine that may read it. Only public keys and wrapped keys are in the
 * bucket; a machine's identity never leaves it. Adding a machine wraps every generation for it; removing
 * one starts a new generation for new data — what the removed machine could read before, it still can.
 */
export const KEYRING_VERSION = 1;
export const CONTENT_CIPHER = "cbe1-aes-256-gcm-64k";
export const MAX_KEYRING_BYTES = 4 * 1024 * 1024;

export interface KeyringFile {
  v: typeof KEYRING_VERSION;
  cipher: typeof CONTENT_CIPHER;
  /** The generation new objects are sealed with. */
  current: number;
  recipients: Array<{ recipient: string; label: string; added: string }>;
  generations: Array<{ id: number; created: string; wrapped: Record<string, string> }>;
}

/** The keys a machine unwrapped: every generation it was given, the current one, and the name cipher. */
export interface RepositoryKeys {
  readonly generations: ReadonlyMap<number, Buffer>;
  readonly current: number;
  readonly names: NameCipher;
}

export interface StoredKeyring {
  readonly file: KeyringFile;
  readonly etag: string;
}

/** age is loaded only when a key ring is read or written (~20 MiB of code a clear repository never needs). */
const age = () => import("age-encryption");

async function wrap(dataKey: Buffer, recipient: string): Promise<string> {
  const encrypter = new (await age()).Encrypter();
  encrypter.addRecipient(recipient);
  return Buffer.from(await encrypter.encrypt(dataKey)).toString("base64");
}

async function wrapForAll(dataKey: Buffer, recipients: readonly string[]): Promise<Record<string, string>> {
  const wrapped: Record<string, string> = {};
  for (const recipient of recipients) wrapped[recipient] = await wrap(dataKey, recipient);
  return wrapped;
}

export async function newKeyring(owner: MachineIdentity, label: string): Promise<{ file: KeyringFile; keys: RepositoryKeys }> {
  const dataKey = randomBytes(32);
  const now = new Date().toISOString();
  const file: KeyringFile = {
    v: KEYRING_VERSION,
    cipher: CONTENT_CIPHER,
    current: 1,
    recipients: [{ recipient: owner.recipient, label, added: now }],
    generations: [{ id: 1, created: now, wrapped: await wrapForAll(dataKey, [owner.recipient]) }],
  };
  return { file, keys: { generations: new Map([[1, dataKey]]), current: 1, names: new NameCipher(dataKey) } };
}

export function parseKeyring(body: Buffer, key: string): KeyringFile {
  const bad = (why: string): never => {
    throw new ObjectStoreError("invalid-keyring", key, `The key ring ${key} is not valid: ${why}. Restore it from the bucket's versions.`);
  };
  let value: KeyringFile;
  try {
    value = JSON.parse(body.toString("utf8")) as KeyringFile;
  } catch {
    return bad("it is not JSON");
  }
  if (value?.v !== KEYRING_VERSION) bad(`version ${JSON.stringify(value?.v)} is not ${KEYRING_VERSION} (a newer cloudbridge wrote it?)`);
  if (value.cipher !== CONTENT_CIPHER) bad(`cipher ${JSON.stringify(value.cipher)} is unknown`);
  if (!Array.isArray(value.recipients) || !Array.isArray(value.generations)) bad("recipients or generations are missing");
  if (!value.generations.some((generation) => generation?.id === value.current)) bad("the current generation is missing");
  if (!value.generations.some((generation) => generation?.id === 1)) bad("the first generation is missing");
  return value;
}

export async function readKeyring(store: ObjectStore, layout: BucketLayout, repo: string): Promise<StoredKeyring | undefined> {
  const key = layout.keyring(repo);
  const object = await store.get(key, { maxBytes: MAX_KEYRING_BYTES });
  if (!object || object === "not-modified") return undefined;
  return { file: parseKeyring(object.body, key), etag: object.etag };
}

/** Creates the key ring once (If-None-Match: *), or replaces the version read (If-Match). */
export async function writeKeyring(
  store: ObjectStore,
  layout: BucketLayout,
  repo: string,
  file: KeyringFile,
  etag: string | undefined,
): Promise<string> {
  const body = `${JSON.stringify(file, null, 2)}\n`;
  const { etag: written } = await store.put(layout.keyring(repo), body, {
    ...(etag === undefined ? { ifNoneMatch: "*" as const } : { ifMatch: etag }),
    contentType: "application/json",
  });
  return written;
}

/** Every generation this machine was given. Refuses in one sentence when it was given none, or not the current one. */
export async function unlockKeyring(file: KeyringFile, identity: MachineIdentity, where: string): Promise<RepositoryKeys> {
  const decrypter = new (await age()).Decrypter();
  decrypter.addIdentity(identity.identity);
  const generations = new Map<number, Buffer>();
  for (const generation of file.generations) {
    const wrapped = generation.wrapped[identity.recipient];
    if (wrapped === undefined) continue;
    generations.set(generation.id, Buffer.from(await decrypter.decrypt(Buffer.from(wrapped, "base64"))));
  }
  const first = generations.get(1);
  if (first === undefined || !generations.has(file.current)) {
    const was = first !== undefined ? " (it was removed from the repository's machines)" : "";
    throw new MissingRepositoryKey(
      where,
      `${where} is encrypted and this machine (${identity.recipient}) holds no key for it${was}: on a machine that syncs it, run \`cloudbridge key add ${identity.recipient}\`, then try again.`,
    );
  }
  return { generations, current: file.current, names: new NameCipher(first) };
}

/** The key ring with every generation also wrapped for `recipient`. */
export async function withRecipient(file: KeyringFile, keys: RepositoryKeys, recipient: string, label: string): Promise<KeyringFile> {
  if (!/^age1[0-9a-z]{58}$/.test(recipient)) {
    throw new ObjectStoreError(
      "invalid-keyring",
      recipient,
      `${JSON.stringify(recipient)} is not an age X25519 public key (age1…, 62 characters).`,
    );
  }
  const recipients = file.recipients.some((entry) => entry.recipient === recipient)
    ? file.recipients
    : [...file.recipients, { recipient, label, added: new Date().toISOString() }];
  return rewrap(file, keys, recipients, file.current);
}

/**
 * The key ring without `recipient`, and a new generation for everything written from now on. The removed
 * machine keeps whatever it already unwrapped: older objects stay readable to it.
 */
export async function withoutRecipient(file: KeyringFile, keys: RepositoryKeys, recipient: string): Promise<KeyringFile> {
  const recipients = file.recipients.filter((entry) => entry.recipient !== recipient);
  if (recipients.length === file.recipients.length) {
    throw new ObjectStoreError("invalid-keyring", recipient, `${recipient} is not one of this repository's machines.`);
  }
  if (recipients.length === 0)
    throw new ObjectStoreError("invalid-keyring", recipient, "The last machine of a repository cannot be removed.");
  const next = Math.max(...file.generations.map((generation) => generation.id)) + 1;
  const rotated = { ...keys, generations: new Map([...keys.generations, [next, randomBytes(32)]]) };
  return rewrap(
    { ...file, generations: [...file.generations, { id: next, created: new Date().toISOString(), wrapped: {} }] },
    rotated,
    recipients,
    next,
  );
}

async function rewrap(
  file: KeyringFile,
  keys: RepositoryKeys,
  recipients: KeyringFile["recipients"],
  current: number,
): Promise<KeyringFile> {
  const names = recipients.map((entry) => entry.recipient);
  const generations: KeyringFile["generations"] = [];
  for (const generation of file.generations) {
    const dataKey = keys.generations.get(generation.id);
    if (dataKey === undefined)
      throw new MissingRepositoryKey(String(generation.id), `This machine lacks key generation ${generation.id}; it cannot re-wrap it.`);
    generations.push({ ...generation, wrapped: await wrapForAll(dataKey, names) });
  }
  return { ...file, current, recipients, generations };
}

/** Reads, changes and writes the key ring by compare-and-swap, again on a concurrent change. */
export async function updateKeyring(
  store: ObjectStore,
  layout: BucketLayout,
  repo: string,
  change: (file: KeyringFile, keys: RepositoryKeys) => Promise<KeyringFile>,
  identity: MachineIdentity,
): Promise<KeyringFile> {
  for (let attempt = 1; ; attempt++) {
    const stored = await readKeyring(store, layout, repo);
    if (!stored)
      throw new ObjectStoreError(
        "invalid-keyring",
        layout.keyring(repo),
        `${layout.keyring(repo)} does not exist: the repository is not encrypted.`,
      );
    const keys = await unlockKeyring(stored.file, identity, `s3://${store.bucket}/${layout.repoRoot(repo)}`);
    const next = await change(stored.file, keys);
    try {
      await writeKeyring(store, layout, repo, next, stored.etag);
      return next;
    } catch (error) {
      if (!(error instanceof PreconditionFailed) || attempt >= 5) throw error;
    }
  }
}
