import { join } from "node:path";
import { loadIdentity, readKeyring, updateKeyring, withoutRecipient, withRecipient, type KeyringFile } from "../../../objectstore/index.ts";
import { BucketLayout, formatRemoteUrl } from "../../../protocol/index.ts";
import { findFolder, readCloudSettings, storeFor } from "../../folder/index.ts";
import { forTerminal } from "../../terminal-text.ts";
import { CliError } from "../errors.ts";
import { emit } from "../output.ts";

/**
 * `cloudbridge key`: the machines that hold an encrypted repository's key (docs/encryption.md). `show`
 * prints this machine's public key (made on first use); `add` wraps every key generation for another
 * machine; `remove` starts a new generation for new data without it; `list` names the machines.
 */
export async function keyShowCommand(options: { json?: boolean }): Promise<void> {
  const identity = (await loadIdentity({ create: true }))!;
  emit(options.json, { recipient: identity.recipient, identityFile: identity.path }, () => identity.recipient);
}

export async function keyListCommand(dir: string | undefined, options: { json?: boolean }): Promise<void> {
  const { file, where } = await withKeyring(dir, async (store, layout, repo) => (await readKeyring(store, layout, repo))?.file);
  emit(options.json, file, () =>
    [
      `${where}: encrypted, key generation ${file.current} of ${file.generations.length}`,
      ...file.recipients.map((entry) => `  ${entry.recipient}  ${forTerminal(entry.label)} (added ${entry.added})`),
    ].join("\n"),
  );
}

export async function keyAddCommand(recipient: string, dir: string | undefined, options: { label: string; json?: boolean }): Promise<void> {
  const { file, where } = await withKeyring(dir, async (store, layout, repo, identity) =>
    updateKeyring(store, layout, repo, (ring, keys) => withRecipient(ring, keys, recipient, options.label), identity),
  );
  emit(options.json, file, () => `${where}: ${recipient} can now read and write it (clone it there).`);
}

export async function keyRemoveCommand(recipient: string, dir: string | undefined, options: { json?: boolean }): Promise<void> {
  const { file, where } = await withKeyring(dir, async (store, layout, repo, identity) =>
    updateKeyring(store, layout, repo, (ring, keys) => withoutRecipient(ring, keys, recipient), identity),
  );
  emit(options.json, file, () =>
    [
      `${where}: ${recipient} was removed; what is written from now on uses key generation ${file.current}, which it does not have.`,
      "It can still read everything written before (it kept those keys), and until its AWS credentials are revoked it can",
      "still read and delete objects in the bucket: revoke them too (raise its keySerial, docs/stack.md).",
    ].join("\n"),
  );
}

async function withKeyring(
  dir: string | undefined,
  work: (
    store: ReturnType<typeof storeFor>,
    layout: BucketLayout,
    repo: string,
    identity: NonNullable<Awaited<ReturnType<typeof loadIdentity>>>,
  ) => Promise<KeyringFile | undefined>,
): Promise<{ file: KeyringFile; where: string }> {
  const root = await findFolder(dir);
  const settings = await readCloudSettings(root, join(root, ".git"));
  const store = storeFor(settings);
  const where = formatRemoteUrl(settings.location);
  try {
    const identity = await loadIdentity();
    if (!identity) throw new CliError("invalid-option", `This machine has no identity: it cannot hold the key of ${where}.`);
    const file = await work(store, new BucketLayout(settings.location.prefix), settings.location.repo, identity);
    if (!file) throw new CliError("invalid-option", `${where} is not encrypted (it has no key ring): it was created without --encrypt.`);
    return { file, where };
  } finally {
    store.destroy();
  }
}
