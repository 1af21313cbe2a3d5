import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
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
  return { template: Template.fromStack(stack), stack };
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

const glob = (pattern: string, text: string) =>
  new RegExp(
    `^${pattern
      .replace(/[.+^${}()|[\]\\]/g, "\\$&")
      .replace(/\*/g, ".*")
      .replace(/\?/g, ".")}$`,
  ).test(text);
const list = <T>(value: T | T[] | undefined): T[] => (value === undefined ? [] : Array.isArray(value) ? value : [value]);

/**
 * IAM's answer for an identity policy (no resource policies, no SCPs): allowed only if some Allow
 * statement matches the action, the resource and its conditions (StringLike/StringEquals on the given
 * context keys), and no Deny matches.
 */
export function allows(statements: PolicyStatement[], action: string, resource: string, context: Record<string, string> = {}): boolean {
  const matches = (s: PolicyStatement) =>
    list(s.Action).some((a) => glob(a, action)) &&
    list(s.Resource).some((r) => glob(r, resource)) &&
    Object.entries(s.Condition ?? {}).every(([operator, keys]) =>
      Object.entries(keys).every(([key, expected]) => {
        const actual = context[key];
        if (actual === undefined) return false;
        if (operator === "StringLike") return list(expected).some((e) => glob(e, actual));
        if (operator === "StringEquals") return list(expected).includes(actual);
        throw new Error(`allows(): condition operator ${operator} is not modelled`);
      }),
    );
  return statements.some((s) => s.Effect === "Allow" && matches(s)) && !statements.some((s) => s.Effect === "Deny" && matches(s));
}
