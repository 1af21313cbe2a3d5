import { readFileSync } from "node:fs";
import type { CloudAssembly } from "aws-cdk-lib/cx-api";
import { ConfigError } from "./config.ts";

/**
 * The AWS quotas a synthesized cloudbridge stack can run into, checked on the templates `cdk synth`
 * writes — so a configuration that would fail half-way through `cdk deploy` (or deploy and then fail at
 * run time) stops at synth with the limit named. cdk-nag and CloudFormation's own validator check
 * none of these.
 *
 * Policy sizes are IAM's count: characters of the policy without whitespace, after CloudFormation has
 * resolved every reference. References are counted at the longest value they can take (a bucket name
 * 63 characters, an account id 12...), so a stack that passes here fits in any account and region.
 */
export const AWS_LIMITS = {
  userInlinePolicyChars: { max: 2_048, what: "IAM: the inline policies of one user, in total (characters without whitespace)" },
  roleInlinePolicyChars: { max: 10_240, what: "IAM: the inline policies of one role, in total (characters without whitespace)" },
  groupInlinePolicyChars: { max: 5_120, what: "IAM: the inline policies of one group, in total (characters without whitespace)" },
  managedPolicyChars: { max: 6_144, what: "IAM: one managed policy (characters without whitespace)" },
  managedPoliciesPerPrincipal: { max: 10, what: "IAM: managed policies attached to one user, group or role" },
  groupsPerUser: { max: 10, what: "IAM: groups one user belongs to" },
  tagsPerUser: { max: 50, what: "IAM: tags on one user" },
  resourcesPerStack: { max: 500, what: "CloudFormation: resources in one stack" },
  outputsPerStack: { max: 200, what: "CloudFormation: outputs of one stack" },
  parametersPerStack: { max: 200, what: "CloudFormation: parameters of one stack" },
  templateBytes: { max: 1_000_000, what: "CloudFormation: size of one template (uploaded through S3)" },
  filterPoliciesPerTopic: { max: 200, what: "SNS: subscription filter policies on one topic (default quota)" },
  lambdaEnvironmentBytes: { max: 4_096, what: "Lambda: a function's environment variables, in total" },
  lifecycleRulesPerBucket: { max: 1_000, what: "S3: lifecycle rules of one bucket" },
} as const;

export type AwsLimit = keyof typeof AWS_LIMITS;

/** How to get back under each limit with this stack's settings (docs/stack.md, "Scale"). */
const REMEDY: Partial<Record<AwsLimit, string>> = {
  resourcesPerStack: 'spread the agents over nested stacks: raise "agentStacks" (about 45 agents fit in one)',
  outputsPerStack: 'spread the agents over nested stacks: raise "agentStacks" (3 outputs per agent)',
  filterPoliciesPerTopic:
    "an agent that syncs every repository needs no filter policy; otherwise ask AWS to raise the SNS quota " +
    '"Filter policies per topic" before deploying',
  tagsPerUser: "an agent carries one tag per repository it syncs: give it at most 50 repositories",
  groupsPerUser: "the repositories' policies fill the groups: fewer repositories, or shorter repository names",
  lambdaEnvironmentBytes: "fewer repositories, or shorter repository names",
};

export interface LimitViolation {
  readonly limit: AwsLimit;
  readonly stack: string;
  /** The logical id of what is over the limit (or the stack itself). */
  readonly subject: string;
  readonly value: number;
}

export type Template = {
  Resources?: Record<string, { Type: string; Properties?: Record<string, unknown> }>;
  Outputs?: Record<string, unknown>;
  Parameters?: Record<string, unknown>;
};

/** The message for a configuration past AWS limits: each limit, the value and the way back. */
export function limitsMessage(violations: readonly LimitViolation[]): string {
  return (
    `The synthesized stack would not deploy: it exceeds ${violations.length === 1 ? "an AWS limit" : "AWS limits"}:\n` +
    violations.map((v) => `  - ${describeViolation(v)}`).join("\n") +
    '\nSee docs/stack.md, "Scale".'
  );
}

export function describeViolation(v: LimitViolation): string {
  const { max, what } = AWS_LIMITS[v.limit];
  const remedy = REMEDY[v.limit];
  return `${v.stack}/${v.subject}: ${what} is at most ${max.toLocaleString("en-US")}, this is ${v.value.toLocaleString("en-US")} (${v.limit})${remedy ? `: ${remedy}` : ""}`;
}

/** Every template of a cloud assembly (nested stacks included), checked; throws ConfigError `stack-limit-exceeded` naming each violation. */
export function assertAssemblyWithinLimits(assembly: CloudAssembly): void {
  const violations = templateViolations(assemblyTemplates(assembly));
  if (violations.length > 0) throw new ConfigError("stack-limit-exceeded", limitsMessage(violations));
}

export interface NamedTemplate {
  readonly name: string;
  readonly template: Template;
  /** The template's size as CloudFormation receives it. */
  readonly bytes?: number;
  /** A nested stack's parameters as its parent passes them, so a reference through them is followed. */
  readonly parameters?: Record<string, unknown>;
}

/** The templates of an assembly: each stack's, then each nested stack's (found through the stack's file assets). */
export function assemblyTemplates(assembly: CloudAssembly): NamedTemplate[] {
  const out: NamedTemplate[] = [];
  for (const artifact of assembly.stacksRecursively) {
    const template = artifact.template as Template;
    out.push({ name: artifact.stackName, template, bytes: JSON.stringify(template).length });
    const assets = readJson(`${assembly.directory}/${artifact.stackName}.assets.json`) as {
      files?: Record<string, { source: { path: string } }>;
    };
    for (const [id, resource] of Object.entries(template.Resources ?? {})) {
      if (resource.Type !== "AWS::CloudFormation::Stack") continue;
      const url = JSON.stringify(resource.Properties?.TemplateURL ?? "");
      const hash = /([0-9a-f]{64})\.json/.exec(url)?.[1];
      const file = hash ? assets.files?.[hash]?.source.path : undefined;
      if (!file) continue;
      const nested = readJson(`${assembly.directory}/${file}`) as Template;
      out.push({
        name: `${artifact.stackName}/${id}`,
        template: nested,
        bytes: JSON.stringify(nested).length,
        parameters: resource.Properties?.Parameters as Record<string, unknown>,
      });
    }
  }
  return out;
}

const readJson = (path: string): unknown => {
  try {
    return JSON.parse(readFileSync(path, "utf8"));
  } catch {
    return {};
  }
};

/**
 * The violations in a set of templates. Filter policies are counted per topic across templates: a nested
 * stack's subscriptions name the parent's topic through a parameter, which carries the topic's name.
 */
export function templateViolations(templates: readonly NamedTemplate[]): LimitViolation[] {
  const violations: LimitViolation[] = [];
  const over = (limit: AwsLimit, stack: string, subject: string, value: number) => {
    if (value > AWS_LIMITS[limit].max) violations.push({ limit, stack, subject, value });
  };
  const filterPolicies = new Map<string, { stack: string; count: number }>();

  for (const { name, template, bytes, parameters } of templates) {
    const resources = template.Resources ?? {};
    over("resourcesPerStack", name, "Resources", Object.keys(resources).length);
    over("outputsPerStack", name, "Outputs", Object.keys(template.Outputs ?? {}).length);
    over("parametersPerStack", name, "Parameters", Object.keys(template.Parameters ?? {}).length);
    if (bytes !== undefined) over("templateBytes", name, "template", bytes);

    const typeOf = (id: string) => resources[id]?.Type;
    const inline = new Map<string, number>();
    const managed = new Map<string, number>();
    const groups = new Map<string, number>();
    const add = (map: Map<string, number>, key: string, n: number) => map.set(key, (map.get(key) ?? 0) + n);
    const refs = (value: unknown): string[] =>
      (Array.isArray(value) ? value : []).map((v) =>
        v && typeof v === "object" && "Ref" in v ? String((v as { Ref: unknown }).Ref) : JSON.stringify(v),
      );
    const size = (document: unknown) => resolvedLength(document, resources);

    for (const [id, resource] of Object.entries(resources)) {
      const p = resource.Properties ?? {};
      switch (resource.Type) {
        case "AWS::IAM::Policy":
          for (const holder of [...refs(p.Users), ...refs(p.Roles), ...refs(p.Groups)]) add(inline, holder, size(p.PolicyDocument));
          break;
        case "AWS::IAM::ManagedPolicy":
          over("managedPolicyChars", name, id, size(p.PolicyDocument));
          for (const holder of [...refs(p.Users), ...refs(p.Roles), ...refs(p.Groups)]) add(managed, holder, 1);
          break;
        case "AWS::IAM::User":
        case "AWS::IAM::Role":
        case "AWS::IAM::Group":
          for (const policy of (p.Policies as { PolicyDocument: unknown }[] | undefined) ?? [])
            add(inline, id, size(policy.PolicyDocument));
          add(managed, id, ((p.ManagedPolicyArns as unknown[] | undefined) ?? []).length);
          if (resource.Type === "AWS::IAM::User") {
            add(groups, id, ((p.Groups as unknown[] | undefined) ?? []).length);
            over("tagsPerUser", name, id, ((p.Tags as unknown[] | undefined) ?? []).length);
          }
          break;
        case "AWS::IAM::UserToGroupAddition":
          for (const user of refs(p.Users)) add(groups, user, 1);
          break;
        case "AWS::SNS::Subscription":
          if (p.FilterPolicy !== undefined) {
            const topic = topicKey(p.TopicArn, parameters);
            const entry = filterPolicies.get(topic) ?? { stack: name, count: 0 };
            entry.count += 1;
            filterPolicies.set(topic, entry);
          }
          break;
        case "AWS::Lambda::Function":
          over(
            "lambdaEnvironmentBytes",
            name,
            id,
            environmentBytes((p.Environment as { Variables?: unknown } | undefined)?.Variables, resources),
          );
          break;
        case "AWS::S3::Bucket":
          over("lifecycleRulesPerBucket", name, id, ((p.LifecycleConfiguration as { Rules?: unknown[] } | undefined)?.Rules ?? []).length);
          break;
      }
    }
    for (const [holder, chars] of inline) {
      const type = typeOf(holder);
      if (type === "AWS::IAM::User") over("userInlinePolicyChars", name, holder, chars);
      else if (type === "AWS::IAM::Role") over("roleInlinePolicyChars", name, holder, chars);
      else if (type === "AWS::IAM::Group") over("groupInlinePolicyChars", name, holder, chars);
    }
    for (const [holder, count] of managed) over("managedPoliciesPerPrincipal", name, holder, count);
    for (const [user, count] of groups) over("groupsPerUser", name, user, count);
  }
  for (const [topic, { stack, count }] of filterPolicies) over("filterPoliciesPerTopic", stack, topic, count);
  return violations;
}

/** A topic named in a subscription, the same text whether the parent stack refers to it or a nested stack's parameter does. */
function topicKey(value: unknown, parameters: Record<string, unknown> = {}): string {
  const ref = value && typeof value === "object" && "Ref" in value ? String((value as { Ref: unknown }).Ref) : undefined;
  return JSON.stringify(ref !== undefined && ref in parameters ? parameters[ref] : value);
}

/** Lambda counts the environment as its JSON text. */
function environmentBytes(variables: unknown, resources: NonNullable<Template["Resources"]>): number {
  return variables === undefined ? 0 : resolvedLength(variables, resources);
}

/**
 * The longest value each reference can resolve to, by what it refers to: the text IAM or Lambda will
 * count once CloudFormation has filled it in.
 */
const LONGEST = {
  account: 12,
  region: 14, // ap-southeast-3, ap-northeast-3
  partition: 10, // aws-us-gov
  urlSuffix: 16, // amazonaws.com.cn
  bucketName: 63,
  queueName: 80,
  topicName: 256,
  functionName: 64,
  unknown: 128,
} as const;

function referenceText(ref: string, attribute: string | undefined, resources: NonNullable<Template["Resources"]>): string {
  const x = (n: number) => "x".repeat(n);
  const arn = (service: string, resource: string) =>
    `arn:${x(LONGEST.partition)}:${service}:${x(LONGEST.region)}:${x(LONGEST.account)}:${resource}`;
  switch (ref) {
    case "AWS::AccountId":
      return x(LONGEST.account);
    case "AWS::Region":
      return x(LONGEST.region);
    case "AWS::Partition":
      return x(LONGEST.partition);
    case "AWS::URLSuffix":
      return x(LONGEST.urlSuffix);
  }
  const type =
    resources[ref]?.Type ??
    (/Bucket/.test(ref) ? "AWS::S3::Bucket" : /Queue/.test(ref) ? "AWS::SQS::Queue" : /Topic/.test(ref) ? "AWS::SNS::Topic" : "");
  const wantsArn = attribute === "Arn" || (attribute === undefined && /Arn(Ref)?$/.test(ref));
  switch (type) {
    case "AWS::S3::Bucket":
      return wantsArn ? `arn:${x(LONGEST.partition)}:s3:::${x(LONGEST.bucketName)}` : x(LONGEST.bucketName);
    case "AWS::SQS::Queue":
      return wantsArn
        ? arn("sqs", x(LONGEST.queueName))
        : `https://sqs.${x(LONGEST.region)}.${x(LONGEST.urlSuffix)}/${x(LONGEST.account)}/${x(LONGEST.queueName)}`;
    case "AWS::SNS::Topic":
      return arn("sns", x(LONGEST.topicName));
    case "AWS::Lambda::Function":
      return wantsArn ? arn("lambda", `function:${x(LONGEST.functionName)}`) : x(LONGEST.functionName);
    case "AWS::SecretsManager::Secret":
      return arn("secretsmanager", `secret:${x(LONGEST.unknown)}-xxxxxx`);
    default:
      return x(LONGEST.unknown);
  }
}

/** The length of a template value's JSON once CloudFormation has resolved it (references at their longest). */
export function resolvedLength(value: unknown, resources: NonNullable<Template["Resources"]> = {}): number {
  return JSON.stringify(resolve(value, resources)).length;
}

function resolve(value: unknown, resources: NonNullable<Template["Resources"]>): unknown {
  if (Array.isArray(value)) return value.map((v) => resolve(v, resources));
  if (value && typeof value === "object") {
    const object = value as Record<string, unknown>;
    if ("Ref" in object) return referenceText(String(object.Ref), undefined, resources);
    if ("Fn::GetAtt" in object) {
      const [id, attribute] = object["Fn::GetAtt"] as [string, string];
      return referenceText(id, attribute, resources);
    }
    if ("Fn::ImportValue" in object) return "x".repeat(LONGEST.unknown);
    if ("Fn::Join" in object) {
      const [separator, parts] = object["Fn::Join"] as [string, unknown[]];
      return parts.map((part) => String(resolve(part, resources))).join(separator);
    }
    if ("Fn::Sub" in object) {
      const template = Array.isArray(object["Fn::Sub"]) ? String((object["Fn::Sub"] as unknown[])[0]) : String(object["Fn::Sub"]);
      return template.replace(/\$\{([^}]+)\}/g, (_, name: string) => referenceText(name.split(".")[0]!, name.split(".")[1], resources));
    }
    return Object.fromEntries(Object.entries(object).map(([k, v]) => [k, resolve(v, resources)]));
  }
  return value;
}
