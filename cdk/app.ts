import { App, Validations } from "aws-cdk-lib";
import { AwsSolutionsChecks } from "cdk-nag";
import { configFromContext, ConfigError } from "./config.ts";
import { assertAssemblyWithinLimits } from "./limits.ts";
import { CloudbridgeStack } from "./stack.ts";

/**
 * The CDK app (`cdk.json` runs it on the project's Node 24): one cloudbridge stack, named by the context
 * key `stackName` (default "cloudbridge"), configured from the context key `cloudbridge`, with cdk-nag's
 * AWS Solutions checks on every synth: an unacknowledged finding fails it.
 */
export function buildApp(app: App = new App()): { app: App; stack: CloudbridgeStack } {
  const config = configFromContext((key) => app.node.tryGetContext(key));
  // cdk/limits.ts checks resources per stack with the other limits, naming the setting that helps.
  if (app.node.tryGetContext("@aws-cdk/core:stackResourceLimit") === undefined) app.node.setContext("@aws-cdk/core:stackResourceLimit", 0);
  const stackName = String(app.node.tryGetContext("stackName") ?? "cloudbridge");
  const stack = new CloudbridgeStack(app, stackName, {
    config,
    description: "cloudbridge: folders in sync through this account's S3 bucket (bucket, change topic, functions, agent access)",
    env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
  });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return { app, stack };
}

if (import.meta.main) {
  try {
    // IAM, CloudFormation, SNS and Lambda limits are checked on what was synthesized (cdk/limits.ts).
    assertAssemblyWithinLimits(buildApp().app.synth());
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`${error.message}\n`);
    process.exitCode = 1;
  }
}
