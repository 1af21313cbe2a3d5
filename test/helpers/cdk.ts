import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runSimulation } from "@cloud-copilot/iam-simulate";
import { App } from "aws-cdk-lib";
import { Template } from "aws-cdk-lib/assertions";
import { buildApp } from "../../cdk/app.ts";
import type { CloudbridgeStack } from "../../cdk/stack.ts";

/** cdk.json's context, as `cdk synth` gives it to the app (tests do not read cdk.json on their own). */
export const CDK_CONTEXT = (
  JSON.parse(readFileSync(new URL("../../cdk.json", import.meta.url), "utf8")) as { context: Record<string, unknown> }
).context;

/**
 * The stack's template with cdk.json's context (and `cloudbridge` replaced when given), cdk-nag on.
 * Bundling is skipped (the synth test bundles for real) and so is CloudFormation's built-in validator,
 * which costs ~4 s per synth.
 */
export function synthStack(cloudbridge?: unknown): { template: Template; stack: CloudbridgeStack } {
  process.env.CDK_VALIDATION = "false";
  // The cloud assembly goes to a temporary folder that is removed when the test process ends.
  const outdir = mkdtempSync(join(tmpdir(), "cloudbridge-cdk-test-"));
  process.once("exit", () => rmSync(outdir, { recursive: true, force: true }));
  const app = new App({
    outdir,
    context: { ...CDK_CONTEXT, ...(cloudbridge !== undefined ? { cloudbridge } : {}), "aws:cdk:bundling-stacks": [] },
  });
  const { stack } = buildApp(app);
  const template = Template.fromStack(stack);
  resourceTypes.clear();
  for (const [id, resource] of Object.entries(template.toJSON().Resources as Record<string, { Type: string }>))
    resourceTypes.set(id, resource.Type);
  return { template, stack };
}

type Json = unknown;

/**
 * A template value with CloudFormation's intrinsic functions folded into text, so policies can be read
 * as a person reads them: `{"Fn::GetAtt":["BucketData…","Arn"]}` → `arn:<BucketData…>`, joins concatenated,
 * `{"Ref":"X"}` → `<X>`.
 */
export function fold(value: Json): Json {
  if (Array.isArray(value)) return value.map(fold);
  if (value && typeof value === "object") {
    const object = value as Record<string, Json>;
    if ("Fn::GetAtt" in object) {
      const [id, attribute] = object["Fn::GetAtt"] as [string, string];
      return attribute === "Arn" ? `arn:<${id}>` : `<${id}.${attribute}>`;
    }
    if ("Ref" in object) return `<${String(object.Ref)}>`;
    if ("Fn::Join" in object) {
      const [separator, parts] = object["Fn::Join"] as [string, Json[]];
      return parts.map((part) => String(fold(part))).join(separator);
    }
    return Object.fromEntries(Object.entries(object).map(([k, v]) => [k, fold(v)]));
  }
  return value;
}

export interface PolicyStatement {
  Effect: "Allow" | "Deny";
  Action: string | string[];
  Resource: string | string[];
  Condition?: Record<string, Record<string, string | string[]>>;
}

/** Logical id → resource type, of the template `synthStack` produced last (to give placeholders real ARNs). */
const resourceTypes = new Map<string, string>();

/**
 * A folded placeholder (`arn:<Id>`, `<Id>`, `<AWS::AccountId>`) as the ARN CloudFormation would give that
 * resource, so a maintained IAM evaluator can match it against an action's resource types.
 */
function realArn(text: string): string {
  return text
    .replace(/<AWS::AccountId>/g, ACCOUNT)
    .replace(/<AWS::Region>/g, REGION)
    .replace(/<AWS::Partition>/g, "aws")
    .replace(/(arn:)?<([A-Za-z0-9]+)>/g, (whole, _arn: string | undefined, id: string) => {
      const type = resourceTypes.get(id);
      if (type === "AWS::S3::Bucket") return `arn:aws:s3:::${id.toLowerCase()}`;
      if (type === "AWS::SQS::Queue") return `arn:aws:sqs:${REGION}:${ACCOUNT}:${id}`;
      if (type === "AWS::SNS::Topic") return `arn:aws:sns:${REGION}:${ACCOUNT}:${id}`;
      if (type === "AWS::SecretsManager::Secret") return `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:${id}-AbCdEf`;
      if (type === "AWS::Logs::LogGroup") return `arn:aws:logs:${REGION}:${ACCOUNT}:log-group:${id}`;
      return whole;
    });
}
const ACCOUNT = "123456789012";
const REGION = "us-east-1";

/**
 * IAM's answer for an identity policy (no resource policy, no SCPs), by a maintained evaluator
 * (@cloud-copilot/iam-simulate, the one `cloudbridge local --stack` authorizes with): allowed only if some
 * Allow statement matches the action, the resource and its conditions, and no Deny matches. Statements and
 * resource may hold `fold`'s placeholders; they are read as the ARNs of the last synthesized template.
 */
export async function allows(
  statements: PolicyStatement[],
  action: string,
  resource: string,
  context: Record<string, string> = {},
): Promise<boolean> {
  const policy = JSON.parse(realArn(JSON.stringify({ Version: "2012-10-17", Statement: statements }))) as unknown;
  const response = await runSimulation(
    {
      request: {
        principal: `arn:aws:iam::${ACCOUNT}:user/agent`,
        action,
        resource: { resource: realArn(resource), accountId: ACCOUNT },
        contextVariables: context,
      },
      identityPolicies: [{ name: "policy", policy }],
      serviceControlPolicies: [],
      resourceControlPolicies: [],
    },
    {},
  );
  if (response.resultType === "error") throw new Error(`allows(${action}, ${resource}): ${JSON.stringify(response.errors)}`);
  return response.overallResult === "Allowed";
}
