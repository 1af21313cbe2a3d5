import { randomBytes, randomUUID } from "node:crypto";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import type { SNSClient } from "@aws-sdk/client-sns";
import { CreateTopicCommand, SubscribeCommand } from "@aws-sdk/client-sns";
import type { SQSClient } from "@aws-sdk/client-sqs";
import { CreateQueueCommand, GetQueueAttributesCommand, GetQueueUrlCommand } from "@aws-sdk/client-sqs";
import type { S3Event } from "aws-lambda";
import type { BucketNotifications } from "../bucket-notifications.ts";
import type { AccessLogs } from "./access-logs.ts";
import type { FauxqsParts } from "../fauxqs-internals.ts";
import { startLocalFunction, type LocalFunction } from "../lambda-runtime.ts";
import type { LocalSecrets } from "../secrets-manager.ts";
import { startXmppBridge, type XmppBridge } from "../xmpp-bridge.ts";
import { ACCOUNT_ID, type IamDirectory, type PolicyDocument } from "./iam.ts";
import { startQueuePoller } from "./queue-poller.ts";
import { readNestedTemplate, TemplateError, type Deployed, type Template } from "./template.ts";

/**
 * How each CloudFormation resource type is created on the local cloud, from its resolved properties.
 * A deployer returns what the resource answers to Ref and Fn::GetAtt, and the properties it accepted
 * without rehearsing them (listed at start, never silently dropped). Types without a deployer here are
 * not rehearsed at all, and are listed too.
 */
export interface DeployContext {
  readonly stackName: string;
  readonly region: string;
  readonly endpoint: string;
  readonly parts: FauxqsParts;
  readonly iam: IamDirectory;
  readonly secrets: LocalSecrets;
  readonly notifications: BucketNotifications;
  readonly assets: ReadonlyMap<string, string>;
  readonly sns: SNSClient;
  readonly sqs: SQSClient;
  readonly adminCredentials: { accessKeyId: string; secretAccessKey: string };
  readonly log: (line: string) => void;
  /** What the deployed stack holds that the gate and the CloudFormation endpoint consult. */
  readonly state: StackState;
  /** Deploys a nested stack's template with its parameters, as CloudFormation does for `AWS::CloudFormation::Stack`. */
  readonly deployNested: (
    logicalId: string,
    template: Template,
    parameters: Readonly<Record<string, string>>,
  ) => Promise<{ stackId: string; outputs: Readonly<Record<string, string>> }>;
}

export interface StackState {
  readonly bucketPolicies: Map<string, PolicyDocument>;
  readonly queuePolicies: Map<string, PolicyDocument>;
  readonly topicPolicies: Map<string, PolicyDocument>;
  /** Secret name and ARN → ARN. */
  readonly secretArns: Map<string, string>;
  /** Function ARN → the running function. */
  readonly functions: Map<string, LocalFunction>;
  readonly bridges: XmppBridge[];
  /** S3 server access logging of the buckets that ask for it. */
  readonly accessLogs: AccessLogs;
  readonly timers: NodeJS.Timeout[];
  /** Event source mappings' pollers, stopped before the functions they invoke. */
  readonly pollers: { stop(): Promise<void> }[];
}

export interface DeployResult extends Deployed {
  /** Properties the rehearsal accepted without acting on them. */
  notRehearsed?: string[];
  /** False when the resource was accepted but has no local effect at all. */
  rehearsed?: false;
}

type Deployer = (id: string, properties: Record<string, unknown>, context: DeployContext) => Promise<DeployResult> | DeployResult;

const suffix = () => randomBytes(6).toString("hex").toUpperCase();
/** CloudFormation's generated physical names: stack, logical id and a random tail, within the service's limit. */
const physicalName = (context: DeployContext, id: string, max: number) => `${context.stackName}-${id}`.slice(0, max - 13) + `-${suffix()}`;
const list = <T>(value: T | T[] | undefined): T[] => (value === undefined ? [] : Array.isArray(value) ? value : [value]);
const notRehearsed = (properties: Record<string, unknown>, names: string[]) =>
  names.filter((n) => properties[n] !== undefined).map((n) => `${n} accepted, not rehearsed`);

export const DEPLOYERS: Readonly<Record<string, Deployer>> = {
  "AWS::S3::Bucket": (id, p, c) => {
    const name = typeof p.BucketName === "string" ? p.BucketName : physicalName(c, id, 63).toLowerCase();
    if (!c.parts.s3.hasBucket(name)) c.parts.s3.createBucket(name);
    const logging = p.LoggingConfiguration as { DestinationBucketName?: unknown; LogFilePrefix?: unknown } | undefined;
    // Without a destination S3 logs into the bucket itself.
    if (logging)
      c.state.accessLogs.configure(name, {
        bucket: typeof logging.DestinationBucketName === "string" ? logging.DestinationBucketName : name,
        prefix: typeof logging.LogFilePrefix === "string" ? logging.LogFilePrefix : "",
      });
    return {
      ref: name,
      attributes: {
        Arn: `arn:aws:s3:::${name}`,
        DomainName: `${name}.s3.amazonaws.com`,
        RegionalDomainName: `${name}.s3.${c.region}.amazonaws.com`,
      },
      notRehearsed: notRehearsed(p, [
        "VersioningConfiguration",
        "LifecycleConfiguration",
        "BucketEncryption",
        "OwnershipControls",
        "PublicAccessBlockConfiguration",
        "NotificationConfiguration",
      ]),
    };
  },

  "AWS::S3::BucketPolicy": (_id, p, c) => {
    c.state.bucketPolicies.set(String(p.Bucket), p.PolicyDocument as PolicyDocument);
    return { ref: String(p.Bucket), attributes: {} };
  },

  "AWS::SNS::Topic": async (id, p, c) => {
    const name = typeof p.TopicName === "string" ? p.TopicName : physicalName(c, id, 256);
    const { TopicArn } = await c.sns.send(new CreateTopicCommand({ Name: name }));
    return {
      ref: TopicArn!,
      attributes: { TopicArn: TopicArn!, TopicName: name },
      notRehearsed: notRehearsed(p, ["KmsMasterKeyId", "DisplayName"]),
    };
  },

  "AWS::SNS::TopicPolicy": (_id, p, c) => {
    for (const topic of list(p.Topics as string[])) c.state.topicPolicies.set(topic, p.PolicyDocument as PolicyDocument);
    return { ref: suffix(), attributes: {} };
  },

  "AWS::SQS::Queue": async (id, p, c) => {
    const name = typeof p.QueueName === "string" ? p.QueueName : physicalName(c, id, 80);
    const attributes: Record<string, string> = {};
    for (const key of [
      "VisibilityTimeout",
      "MessageRetentionPeriod",
      "DelaySeconds",
      "ReceiveMessageWaitTimeSeconds",
      "MaximumMessageSize",
    ]) {
      if (p[key] !== undefined) attributes[key] = String(p[key]);
    }
    if (p.RedrivePolicy) attributes.RedrivePolicy = JSON.stringify(p.RedrivePolicy);
    const { QueueUrl } = await c.sqs.send(new CreateQueueCommand({ QueueName: name, Attributes: attributes }));
    const { Attributes } = await c.sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ["QueueArn"] }));
    return {
      ref: QueueUrl!,
      attributes: { Arn: Attributes!.QueueArn!, QueueName: name, QueueUrl: QueueUrl! },
      notRehearsed: notRehearsed(p, ["SqsManagedSseEnabled", "KmsMasterKeyId"]),
    };
  },

  "AWS::SQS::QueuePolicy": (_id, p, c) => {
    for (const url of list(p.Queues as string[])) c.state.queuePolicies.set(queueArnOf(url, c.region), p.PolicyDocument as PolicyDocument);
    return { ref: suffix(), attributes: {} };
  },

  "AWS::SNS::Subscription": async (id, p, c) => {
    const protocol = String(p.Protocol);
    if (protocol === "lambda") {
      const fn = c.state.functions.get(String(p.Endpoint));
      if (!fn) throw new TemplateError(`${id}: the subscribed function ${String(p.Endpoint)} is not running in this rehearsal.`);
      if (c.state.bridges.length > 0)
        throw new TemplateError(`${id}: cloudbridge local rehearses one function subscribed to a topic, and this is a second.`);
      const bridge = await startXmppBridge({
        endpoint: c.endpoint,
        region: c.region,
        credentials: c.adminCredentials,
        topicArn: String(p.TopicArn),
        fn,
        log: c.log,
      });
      c.state.bridges.push(bridge);
      return { ref: `${String(p.TopicArn)}:${suffix()}`, attributes: {}, notRehearsed: notRehearsed(p, ["RedrivePolicy", "FilterPolicy"]) };
    }
    const attributes: Record<string, string> = {};
    if (p.FilterPolicy) attributes.FilterPolicy = JSON.stringify(p.FilterPolicy);
    if (p.FilterPolicyScope) attributes.FilterPolicyScope = String(p.FilterPolicyScope);
    if (p.RawMessageDelivery !== undefined) attributes.RawMessageDelivery = String(p.RawMessageDelivery);
    const { SubscriptionArn } = await c.sns.send(
      new SubscribeCommand({ TopicArn: String(p.TopicArn), Protocol: protocol, Endpoint: String(p.Endpoint), Attributes: attributes }),
    );
    return { ref: SubscriptionArn!, attributes: {}, notRehearsed: notRehearsed(p, ["RedrivePolicy"]) };
  },

  "AWS::IAM::User": (id, p, c) => {
    const name = typeof p.UserName === "string" ? p.UserName : physicalName(c, id, 64);
    const user = c.iam.addUser(name, typeof p.Path === "string" ? p.Path : "/", list(p.Tags as { Key: string; Value: string }[]));
    for (const policy of list(p.Policies as { PolicyName: string; PolicyDocument: PolicyDocument }[])) {
      c.iam.attachInline({ users: [name] }, policy.PolicyName, policy.PolicyDocument);
    }
    for (const arn of list(p.ManagedPolicyArns as string[])) attachManaged(c, { users: [name] }, arn);
    for (const group of list(p.Groups as string[])) c.iam.addUserToGroup(name, group);
    return { ref: name, attributes: { Arn: user.arn }, notRehearsed: notRehearsed(p, ["PermissionsBoundary", "LoginProfile"]) };
  },

  "AWS::IAM::Group": (id, p, c) => {
    const name = typeof p.GroupName === "string" ? p.GroupName : physicalName(c, id, 128);
    const arn = c.iam.addGroup(name, typeof p.Path === "string" ? p.Path : "/");
    for (const policy of list(p.Policies as { PolicyName: string; PolicyDocument: PolicyDocument }[])) {
      c.iam.attachInline({ groups: [name] }, policy.PolicyName, policy.PolicyDocument);
    }
    for (const managed of list(p.ManagedPolicyArns as string[])) attachManaged(c, { groups: [name] }, managed);
    return { ref: name, attributes: { Arn: arn } };
  },

  "AWS::IAM::UserToGroupAddition": (_id, p, c) => {
    for (const user of list(p.Users as string[])) c.iam.addUserToGroup(user, String(p.GroupName));
    return { ref: suffix(), attributes: {} };
  },

  "AWS::IAM::Role": (id, p, c) => {
    const name = typeof p.RoleName === "string" ? p.RoleName : physicalName(c, id, 64);
    const role = c.iam.addRole(name, typeof p.Path === "string" ? p.Path : "/");
    for (const policy of list(p.Policies as { PolicyName: string; PolicyDocument: PolicyDocument }[])) {
      c.iam.attachInline({ roles: [name] }, policy.PolicyName, policy.PolicyDocument);
    }
    const unknown = list(p.ManagedPolicyArns as string[]).filter((arn) => !attachManaged(c, { roles: [name] }, arn));
    return {
      ref: name,
      attributes: { Arn: role.arn, RoleId: role.id },
      notRehearsed: [
        ...notRehearsed(p, ["AssumeRolePolicyDocument", "PermissionsBoundary"]),
        ...unknown.map((arn) => `ManagedPolicyArns ${arn} (an AWS managed policy)`),
      ],
    };
  },

  "AWS::IAM::Policy": (_id, p, c) => {
    c.iam.attachInline(
      { users: list(p.Users as string[]), roles: list(p.Roles as string[]), groups: list(p.Groups as string[]) },
      String(p.PolicyName),
      p.PolicyDocument as PolicyDocument,
    );
    return { ref: String(p.PolicyName), attributes: {} };
  },

  "AWS::IAM::ManagedPolicy": (id, p, c) => {
    const name = typeof p.ManagedPolicyName === "string" ? p.ManagedPolicyName : physicalName(c, id, 128);
    const arn = `arn:aws:iam::${ACCOUNT_ID}:policy${typeof p.Path === "string" ? p.Path : "/"}${name}`;
    c.iam.addManagedPolicy(arn, p.PolicyDocument as PolicyDocument);
    c.iam.attachManaged({ users: list(p.Users as string[]), roles: list(p.Roles as string[]), groups: list(p.Groups as string[]) }, arn);
    return { ref: arn, attributes: { PolicyArn: arn } };
  },

  "AWS::IAM::AccessKey": (_id, p, c) => {
    const key = c.iam.createAccessKey(c.iam.principal("user", String(p.UserName)));
    if (p.Status === "Inactive") key.active = false;
    return { ref: key.accessKeyId, attributes: { SecretAccessKey: key.secretAccessKey } };
  },

  "AWS::SecretsManager::Secret": (id, p, c) => {
    const name = typeof p.Name === "string" ? p.Name : `${id}-${suffix()}`;
    let value: string;
    if (typeof p.SecretString === "string") value = p.SecretString;
    else if (p.GenerateSecretString) value = generateSecret(p.GenerateSecretString as GenerateSecretString);
    else value = randomPassword(32, false);
    const arn = c.secrets.put(name, value);
    c.state.secretArns.set(name, arn);
    c.state.secretArns.set(arn, arn);
    return { ref: arn, attributes: { Id: arn }, notRehearsed: notRehearsed(p, ["KmsKeyId", "ReplicaRegions"]) };
  },

  "AWS::Lambda::Function": (id, p, c) => {
    const name = typeof p.FunctionName === "string" ? p.FunctionName : physicalName(c, id, 64);
    const arn = `arn:aws:lambda:${c.region}:${ACCOUNT_ID}:function:${name}`;
    const code = p.Code as { S3Key?: string; ZipFile?: string };
    const runtime = String(p.Runtime ?? "");
    if (!code.S3Key || !runtime.startsWith("nodejs")) {
      const what = `${runtime || "no runtime"}${code.ZipFile ? ", inline code" : ""}`;
      return {
        ref: name,
        attributes: { Arn: arn },
        rehearsed: false,
        notRehearsed: [`not run (${what}): only Node.js bundles in cdk.out are`],
      };
    }
    const folder = c.assets.get(code.S3Key.replace(/\.zip$/, ""));
    const [file, exportName] = String(p.Handler ?? "index.handler").split(".") as [string, string];
    const module = folder ? [".mjs", ".js", ".cjs"].map((ext) => join(folder, file + ext)).find((path) => existsSync(path)) : undefined;
    if (!module) throw new TemplateError(`${id}: its bundle ${code.S3Key} is not in cdk.out (run \`npx cdk synth\` with bundling).`);
    // The function signs as its role, so what the stack granted the role is what it may do.
    const key = c.iam.createAccessKey(c.iam.principal("role", String(p.Role).split("/").at(-1)!));
    const variables = ((p.Environment as { Variables?: Record<string, unknown> } | undefined)?.Variables ?? {}) as Record<string, unknown>;
    const fn = startLocalFunction({
      name,
      module: pathToFileURL(module),
      exportName,
      timeoutMs: Number(p.Timeout ?? 3) * 1000,
      env: {
        ...Object.fromEntries(
          Object.entries(variables)
            .filter(([k]) => k !== "NODE_OPTIONS")
            .map(([k, v]) => [k, String(v)]),
        ),
        AWS_ENDPOINT_URL: c.endpoint,
        AWS_REGION: c.region,
        AWS_DEFAULT_REGION: c.region,
        AWS_ACCESS_KEY_ID: key.accessKeyId,
        AWS_SECRET_ACCESS_KEY: key.secretAccessKey,
        AWS_LAMBDA_FUNCTION_NAME: name,
        POWERTOOLS_LOG_LEVEL: process.env.POWERTOOLS_LOG_LEVEL ?? "WARN",
        POWERTOOLS_METRICS_DISABLED: "true",
        PATH: process.env.PATH ?? "",
      },
    });
    c.state.functions.set(arn, fn);
    c.state.functions.set(name, fn);
    return {
      ref: name,
      attributes: { Arn: arn },
      notRehearsed: notRehearsed(p, [
        "MemorySize",
        "EphemeralStorage",
        "Architectures",
        "DeadLetterConfig",
        "LoggingConfig",
        "ReservedConcurrentExecutions",
      ]),
    };
  },

  "AWS::CloudFormation::Stack": async (id, p, c) => {
    const template = readNestedTemplate(id, String(p.TemplateURL), c.assets);
    const parameters = Object.fromEntries(Object.entries((p.Parameters ?? {}) as Record<string, unknown>).map(([k, v]) => [k, String(v)]));
    const { stackId, outputs } = await c.deployNested(id, template, parameters);
    return {
      ref: stackId,
      attributes: Object.fromEntries(Object.entries(outputs).map(([key, value]) => [`Outputs.${key}`, value])),
      notRehearsed: notRehearsed(p, ["NotificationARNs", "TimeoutInMinutes"]),
    };
  },

  "Custom::S3BucketNotifications": (id, p, c) => {
    const configuration = p.NotificationConfiguration as {
      LambdaFunctionConfigurations?: {
        Events: string[];
        Filter?: { Key?: { FilterRules?: { Name: string; Value: string }[] } };
        LambdaFunctionArn: string;
      }[];
      QueueConfigurations?: unknown[];
      TopicConfigurations?: unknown[];
    };
    const bucket = String(p.BucketName);
    (configuration.LambdaFunctionConfigurations ?? []).forEach((rule, n) => {
      const fn = c.state.functions.get(rule.LambdaFunctionArn);
      if (!fn) throw new TemplateError(`${id}: the function ${rule.LambdaFunctionArn} is not running in this rehearsal.`);
      const filter = (name: string) => rule.Filter?.Key?.FilterRules?.find((r) => r.Name.toLowerCase() === name)?.Value;
      const events = rule.Events.map((event) => {
        if (event.startsWith("s3:ObjectCreated:")) return "ObjectCreated" as const;
        if (event.startsWith("s3:ObjectRemoved:")) return "ObjectRemoved" as const;
        throw new TemplateError(`${id}: the bucket event ${event} is not rehearsed.`);
      });
      const prefix = filter("prefix");
      const suffixFilter = filter("suffix");
      c.notifications.add({
        id: `${id}-${n}`,
        bucket,
        events,
        ...(prefix !== undefined ? { prefix } : {}),
        ...(suffixFilter !== undefined ? { suffix: suffixFilter } : {}),
        deliver: async (event: S3Event) => void (await fn.invoke(event)),
      });
    });
    return {
      ref: `${bucket}-notifications`,
      attributes: {},
      notRehearsed: [
        ...(configuration.QueueConfigurations?.length ? ["QueueConfigurations"] : []),
        ...(configuration.TopicConfigurations?.length ? ["TopicConfigurations"] : []),
      ],
    };
  },

  "AWS::Lambda::EventSourceMapping": async (id, p, c) => {
    const source = String(p.EventSourceArn ?? "");
    const fn = c.state.functions.get(String(p.FunctionName));
    const uuid = randomUUID();
    const arn = `arn:aws:lambda:${c.region}:${ACCOUNT_ID}:event-source-mapping:${uuid}`;
    if (!source.startsWith("arn:aws:sqs:") || !fn || p.Enabled === false) {
      const why = !source.startsWith("arn:aws:sqs:")
        ? `from ${source || "no source"}: only SQS queues are`
        : fn
          ? "disabled"
          : "its function does not run here";
      return { ref: uuid, attributes: { EventSourceMappingArn: arn }, rehearsed: false, notRehearsed: [`not polled (${why})`] };
    }
    const { QueueUrl } = await c.sqs.send(new GetQueueUrlCommand({ QueueName: source.split(":").at(-1)! }));
    const poller = startQueuePoller({
      sqs: c.sqs,
      queueUrl: QueueUrl!,
      queueArn: source,
      region: c.region,
      fn,
      batchSize: Number(p.BatchSize ?? 10),
      concurrency: Number((p.ScalingConfig as { MaximumConcurrency?: number } | undefined)?.MaximumConcurrency ?? 5),
      reportBatchItemFailures: list(p.FunctionResponseTypes as string[]).includes("ReportBatchItemFailures"),
      log: (line) => c.log(`${id}: ${line}`),
    });
    c.state.pollers.push(poller);
    return {
      ref: uuid,
      attributes: { EventSourceMappingArn: arn },
      notRehearsed: [
        "polls as the administrator, not as the function's role",
        ...notRehearsed(p, ["MaximumBatchingWindowInSeconds", "FilterCriteria", "MetricsConfig"]),
      ],
    };
  },

  "AWS::Events::Rule": (id, p, c) => {
    const schedule = typeof p.ScheduleExpression === "string" ? p.ScheduleExpression : undefined;
    const rate = schedule ? /^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$/.exec(schedule) : null;
    const arn = `arn:aws:events:${c.region}:${ACCOUNT_ID}:rule/${physicalName(c, id, 64)}`;
    if (!rate || p.State === "DISABLED") {
      return { ref: arn, attributes: { Arn: arn }, notRehearsed: [schedule ? `ScheduleExpression ${schedule}` : "EventPattern"] };
    }
    const unit = { minute: 60_000, hour: 3_600_000, day: 86_400_000 }[rate[2]!.replace(/s$/, "") as "minute" | "hour" | "day"];
    for (const target of list(p.Targets as { Arn: string; Input?: string }[])) {
      const fn = c.state.functions.get(target.Arn);
      if (!fn) continue;
      const event = target.Input
        ? (JSON.parse(target.Input) as unknown)
        : { source: "aws.events", "detail-type": "Scheduled Event", resources: [arn], detail: {} };
      const timer = setInterval(
        () => void fn.invoke(event).catch((error: unknown) => c.log(`${id}: ${(error as Error).message}`)),
        Number(rate[1]) * unit,
      );
      timer.unref();
      c.state.timers.push(timer);
    }
    return { ref: arn, attributes: { Arn: arn }, notRehearsed: notRehearsed(p, ["EventPattern"]) };
  },
};

/** Resource types accepted on purpose without a local counterpart: what they do has no effect on the rehearsal's answers. */
export const ACCEPTED_WITHOUT_EFFECT: ReadonlyMap<string, string> = new Map([
  ["AWS::Lambda::Permission", "who may invoke a function is not checked (only the stack's own rules invoke them)"],
  ["AWS::Lambda::EventInvokeConfig", "retries of asynchronous invocations are not rehearsed"],
  ["AWS::Logs::LogGroup", "function logs go to the rehearsal's stderr"],
  ["AWS::CloudWatch::Alarm", "no metrics, no alarms"],
  ["AWS::KMS::Key", "no encryption keys"],
  ["AWS::KMS::Alias", "no encryption keys"],
  ["AWS::CDK::Metadata", "CDK's own bookkeeping"],
]);

function attachManaged(c: DeployContext, to: { users?: string[]; roles?: string[]; groups?: string[] }, arn: string): boolean {
  if (!c.iam.hasManagedPolicy(arn)) {
    if (arn === "arn:aws:iam::aws:policy/AdministratorAccess")
      c.iam.addManagedPolicy(arn, { Version: "2012-10-17", Statement: [{ Effect: "Allow", Action: "*", Resource: "*" }] });
    else return false;
  }
  c.iam.attachManaged(to, arn);
  return true;
}

function queueArnOf(urlOrArn: string, region: string): string {
  if (urlOrArn.startsWith("arn:")) return urlOrArn;
  const name = urlOrArn.split("/").at(-1)!;
  return `arn:aws:sqs:${region}:${ACCOUNT_ID}:${name}`;
}

interface GenerateSecretString {
  SecretStringTemplate?: string;
  GenerateStringKey?: string;
  PasswordLength?: number;
  ExcludePunctuation?: boolean;
}

function generateSecret(spec: GenerateSecretString): string {
  const password = randomPassword(spec.PasswordLength ?? 32, !spec.ExcludePunctuation);
  if (spec.SecretStringTemplate && spec.GenerateStringKey) {
    return JSON.stringify({ ...(JSON.parse(spec.SecretStringTemplate) as object), [spec.GenerateStringKey]: password });
  }
  return password;
}

function randomPassword(length: number, punctuation: boolean): string {
  const alphabet = `ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789${punctuation ? "!#$%&()*+,-.:;<=>?@[]^_{|}~" : ""}`;
  return [...randomBytes(length)].map((b) => alphabet[b % alphabet.length]).join("");
}

export { queueArnOf };
