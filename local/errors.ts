import { CloudbridgeError } from "../protocol/index.ts";

/**
 * What the cloud on one machine could not do: a wrong option or a taken port (the person changes the
 * command), an emulator that answered without what it must return, a function that failed or ran out of
 * time, or a synthesized stack it cannot deploy (not a cloud assembly, or something it does not rehearse).
 */
export type LocalCloudErrorCode =
  | "local-invalid-option"
  | "local-port-in-use"
  | "local-emulator-incomplete"
  | "local-function-failed"
  | "local-function-timeout"
  | "local-stack-invalid";

export class LocalCloudError extends CloudbridgeError<LocalCloudErrorCode> {}
