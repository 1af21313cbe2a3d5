/**
 * protocol/: the contract every other package shares — bucket layout, names, git-annex keys, change
 * messages, S3/SNS event parsing, XMPP payloads, stack outputs, the deployment contract, the error base.
 * Pure functions and schemas, no I/O; import it through this file.
 */
export * from "./annex-key.ts";
export * from "./change-from-event.ts";
export * from "./change-message.ts";
export * from "./daemon-request.ts";
export * from "./deployment.ts";
export * from "./endpoint-url.ts";
export * from "./errors.ts";
export * from "./jid.ts";
export * from "./layout.ts";
export * from "./local-cloud.ts";
export * from "./names.ts";
export * from "./remote-url.ts";
export * from "./service-url.ts";
export * from "./s3-event.ts";
export * from "./sns-event.ts";
export * from "./stack-outputs.ts";
export * from "./xmpp-change.ts";
export * from "./xmpp-sasl.ts";
export * from "./zod.ts";
