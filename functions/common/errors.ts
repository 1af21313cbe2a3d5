import { CloudbridgeError } from "../../protocol/index.ts";

/**
 * What a function could not do, for its logs and for whoever reads its dead-letter queue: `code` says
 * which part failed, `message` what to check. Configuration problems are ProtocolError
 * ("invalid-function-environment"), raised by the deployment contract's parsers.
 */
export type FunctionErrorCode =
  "invalid-xmpp-secret" | "xmpp-login-refused" | "xmpp-unreachable" | "xmpp-timeout" | "sns-publish-refused" | "compaction-failed";

export class FunctionError extends CloudbridgeError<FunctionErrorCode> {}
