/**
 * cdk/: the stack (bucket, change topic, functions, per-agent keys and queues, optional XMPP) and its
 * validated configuration. cdk/app.ts is the CDK app that `npx cdk synth` runs.
 */
export { CloudbridgeStack, type CloudbridgeStackProps } from "./stack.ts";
export { configFromContext, configSchema, ConfigError, parseConfig, type CloudbridgeConfig, type ConfigErrorCode } from "./config.ts";
