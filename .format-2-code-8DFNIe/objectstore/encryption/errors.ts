import { ObjectStoreError } from "../object-store.ts";

/**
 * An object of an encrypted repository that does not decrypt: altered, truncated, moved from another name,
 * or sealed with a key generation this machine does not hold. Nothing read from it is used or written.
 */
export class UndecryptableObject extends ObjectStoreError {
  constructor(key: string, why: string) {
    super(
      "undecryptable-object",
      key,
      `Refused ${key}: it does not decrypt, ${why}. Nothing from it was written; the object was damaged or replaced in the bucket, or was encrypted with a key this machine was not given.`,
    );
  }
}

/** The repository is encrypted and this machine holds none of its keys, or lacks a needed generation. */
export class MissingRepositoryKey extends ObjectStoreError {
  constructor(key: string, message: string) {
    super("missing-repository-key", key, message);
  }
}
