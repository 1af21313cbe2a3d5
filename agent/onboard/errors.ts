import { CloudbridgeError } from "../../protocol/index.ts";

/**
 * Onboarding a machine could not go on: the stack, the agent or the repository named is not there or not
 * granted, the credentials are not an administrator's, or an invite is not usable (damaged, expired, used).
 * Each is fixed by the person (another name, a deploy, a new invite), which the message says.
 */
export type OnboardErrorCode =
  | "no-such-stack"
  | "not-an-administrator"
  | "unknown-agent"
  | "repository-not-granted"
  | "bad-agent-secret"
  | "invalid-invite"
  | "invite-expired"
  | "invite-used";

export class OnboardError extends CloudbridgeError<OnboardErrorCode> {}
