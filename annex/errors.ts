import { CloudbridgeError } from "../protocol/index.ts";

/**
 * What the annex refuses or cannot do, for one key: another process holds it, it names no hash to verify,
 * a drop would lose the last verified copy, a copy does not match its key, the cloud lacks it. None of
 * them is cured by trying again (the transfer retries leave them alone); the message says what to do.
 */
export type AnnexErrorCode =
  | "content-locked"
  | "unverifiable-key"
  | "drop-refused"
  | "corrupt-local-content"
  | "content-not-in-cloud"
  | "corrupt-object"
  | "corrupt-cloud-uuid";

export class AnnexError extends CloudbridgeError<AnnexErrorCode> {
  /** The key the error is about (for corrupt-cloud-uuid, the bucket's object that should hold the UUID). */
  readonly key: string;
  constructor(code: AnnexErrorCode, key: string, message: string, options?: ErrorOptions) {
    super(code, message, options);
    this.key = key;
  }
}
