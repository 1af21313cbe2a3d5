import { randomBytes, randomUUID } from "node:crypto";
import { SNSClient } from "@aws-sdk/client-sns";
import { SQSClient } from "@aws-sdk/client-sqs";
import { installBucketNotifications } from "../bucket-notifications.ts";
import { installConditionalWrites } from "../conditional-writes.ts";
import { buildFauxqs } from "../fauxqs-internals.ts";
import { listenOnLoopback } from "../loopback.ts";
import { installS3Fixes } from "../s3-fixes.ts";
import { installSecretsManager } from "../secrets-manager.ts";
import { installCloudFormation, type StackDescription } from "./cloudformation.ts";
import { ACCEPTED_WITHOUT_EFFECT, DEPLOYERS, queueArnOf, type DeployContext, type StackState } from "./deployers.ts";
import type { FaultCounts, FaultRates } from "./faults.ts";
import { installGate } from "./gate.ts";
import { AccessLogs } from "./access-logs.ts";
import { installLambdaInvoke } from "./lambda-invoke.ts";
import { ACCOUNT_ID, IamDirectory } from "./iam.ts";
import {
  deploymentOrder,
  readCloudAssembly,
  resolve,
  TemplateError,
  type Deployed,
  type ResolveContext,
  type Template,
} from "./template.ts";

/**
 * `cloudbridge local --stack <cdk.out>`: the local cloud deploys a synthesized stack itself and answers
 * as that stack would in AWS. Every request is signed with one of the stack's keys (or the
 * administrator's) and authorized by IAM's rules before S3, SNS, SQS, Secrets Manager or CloudFormation
 * sees it; the functions run from the bundles `cdk deploy` would upload.
 */
export interface StackCloudOptions {
  /** The synthesized cloud assembly (`cdk.out`). */
  cdkOut: string;
  /** Which stack, when the assembly holds several. */
  stackName?: string;
  port?: number;
  region?: string;
  faults?: FaultRates;
  log?: (line: string) => void;
}

export interface StackCloud {
  readonly endpoint: string;
  readonly port: number;
  readonly region: string;
  readonly stackName: string;
  /** The administrator's environment (AdministratorAccess), as `export` lines show it. */
  readonly env: Readonly<Record<string, string>>;
  readonly outputs: Readonly<Record<string, string>>;
  /** The stacks it nests (CloudFormation names them `<stack>-<logical id>-<random>`), each with its outputs. */
  readonly nestedStacks: readonly { stackName: string; stackId: string; outputs: Readonly<Record<string, string>> }[];
  /** Resource types deployed, and what was accepted without being rehearsed (one line each). */
  readonly rehearsed: readonly string[];
  readonly notRehearsed: readonly string[];
  /** How many faults were injected so far. */
  readonly faultCounts: Readonly<FaultCounts>;
  /** Waits until every bucket event so far has gone through its function. */
  settle(): Promise<void>;
  /**
   * Applies the cloud assembly as it is now (synthesized again into the same folder) to the main stack as a
   * stack update would: resources added are deployed, an access key whose serial changed is replaced (the
   * old key deleted), access keys removed are deleted, a secret whose value changed gets it as its current
   * version — what raising an agent's keySerial and deploying does. Any other change (a nested stack's
   * included) is refused, naming it, before anything changes. One line per change.
   */
  update(): Promise<string[]>;
  stop(): Promise<void>;
}

export const ADMIN_USER = "cloudbridge-local-admin";

export async function startStackCloud(options: StackCloudOptions): Promise<StackCloud> {
  const region = options.region ?? "us-east-1";
  const log = options.log ?? (() => {});
  const assembly = readCloudAssembly(options.cdkOut, options.stackName);
  const { template, stackName } = assembly;
  const stackId = `arn:aws:cloudformation:${region}:${ACCOUNT_ID}:stack/${stackName}/${randomUUID()}`;
  const parts = await buildFauxqs({ region });

  const iam = new IamDirectory();
  iam.addUser(ADMIN_USER);
  iam.attachInline({ users: [ADMIN_USER] }, "AdministratorAccess", {
    Version: "2012-10-17",
    Statement: [{ Effect: "Allow", Action: "*", Resource: "*" }],
  });
  const admin = iam.createAccessKey(iam.principal("user", ADMIN_USER));
  const adminCredentials = { accessKeyId: admin.accessKeyId, secretAccessKey: admin.secretAccessKey };

  const state: StackState = {
    bucketPolicies: new Map(),
    queuePolicies: new Map(),
    topicPolicies: new Map(),
    secretArns: new Map(),
    functions: new Map(),
    bridges: [],
    accessLogs: new AccessLogs(parts, (accessKeyId) => iam.accessKey(accessKeyId)?.principal.arn),
    timers: [],
    pollers: [],
  };
  const faultCounts: FaultCounts = { conflict: 0, slowDown: 0 };
  // The stack and its nested stacks, as DescribeStacks answers for them (outputs once deployed).
  const stacks: StackDescription[] = [];

  // The gate first: the adapters after it capture state their route handler consumes in the same turn.
  installGate(parts, {
    iam,
    names: {
      queueArn: (urlOrName) => queueArnOf(urlOrName, region),
      secretArn: (id) =>
        state.secretArns.get(id) ??
        [...state.secretArns.values()].find((arn) => arn.startsWith(`${id}-`) || arn.includes(`:secret:${id}-`)) ??
        `arn:aws:secretsmanager:${region}:${ACCOUNT_ID}:secret:${id}`,
      functionArn: (nameOrArn) =>
        nameOrArn.startsWith("arn:") ? nameOrArn : `arn:aws:lambda:${region}:${ACCOUNT_ID}:function:${nameOrArn}`,
      stackArn: (name) =>
        stacks.find((stack) => name === stack.stackName || name === stack.stackId)?.stackId ??
        `arn:aws:cloudformation:${region}:${ACCOUNT_ID}:stack/${name}/*`,
    },
    policies: {
      bucket: (name) => state.bucketPolicies.get(name),
      queue: (arn) => state.queuePolicies.get(arn),
      topic: (arn) => state.topicPolicies.get(arn),
    },
    faults: options.faults ?? {},
    counts: faultCounts,
    log,
  });
  installCloudFormation(parts, () => stacks);
  installLambdaInvoke(parts, (nameOrArn) => state.functions.get(nameOrArn));
  installS3Fixes(parts, { region });
  installConditionalWrites(parts);
  const secrets = installSecretsManager(parts, { region });
  const notifications = installBucketNotifications(parts, {
    region,
    onError: (rule, key, error) => log(`bucket notification ${rule.id} for ${key} failed: ${(error as Error).message}`),
  });

  // Loopback only: this is a rehearsal on one machine, never a service on the network.
  const { port, endpoint } = await listenOnLoopback(parts, options.port);
  const common = { region, endpoint, credentials: adminCredentials };
  const sns = new SNSClient(common);
  const sqs = new SQSClient({ ...common, useQueueUrlAsEndpoint: false });

  const stop = async () => {
    sns.destroy();
    sqs.destroy();
    for (const timer of state.timers) clearInterval(timer);
    await Promise.all(state.pollers.map((p) => p.stop()));
    await notifications.drain();
    await Promise.all(state.bridges.map((b) => b.stop()));
    state.accessLogs.stop();
    await Promise.all([...new Set(state.functions.values())].map((f) => f.stop()));
    await parts.close();
  };

  try {
    const rehearsedCounts = new Map<string, number>();
    // What was accepted without local effect, grouped: "type: what" → the logical ids it concerns.
    const accepted = new Map<string, string[]>();
    const note = (line: string, id: string) => accepted.set(line, [...(accepted.get(line) ?? []), id]);
    const shared = {
      region,
      endpoint,
      parts,
      iam,
      secrets,
      notifications,
      assets: assembly.assets,
      sns,
      sqs,
      adminCredentials,
      log,
      state,
    };

    const outputsOf = (stack: StackDescription) => Object.fromEntries(stack.outputs.map((o) => [o.key, o.value]));

    /** Creates one stack's resources in order (a nested stack's, when it reaches one) and resolves its outputs. */
    const deployStack = async (
      template: Template,
      name: string,
      id: string,
      parameterValues: Readonly<Record<string, string>>,
      parentId?: string,
    ): Promise<DeployedStack> => {
      const described: StackDescription = { stackName: name, stackId: id, created: new Date(), outputs: [] };
      if (parentId) Object.assign(described, { parentId, rootId: stackId });
      if (template.Description) described.description = template.Description;
      stacks.push(described);
      const deployed = new Map<string, Deployed>();
      const parameters = Object.fromEntries(
        Object.entries(template.Parameters ?? {}).map(([key, p]) => [key, parameterValues[key] ?? String(p.Default ?? "")]),
      );
      const resolveContext: ResolveContext = {
        pseudo: {
          "AWS::Region": region,
          "AWS::AccountId": ACCOUNT_ID,
          "AWS::Partition": "aws",
          "AWS::StackName": name,
          "AWS::StackId": id,
          "AWS::URLSuffix": "amazonaws.com",
          "AWS::NoValue": "",
        },
        parameters,
        deployed,
      };
      const context: DeployContext = {
        ...shared,
        stackName: name,
        deployNested: async (logicalId, nested, values) => {
          const nestedName = `${name}-${logicalId}-${randomBytes(6).toString("hex").toUpperCase()}`.slice(-128);
          const nestedId = `arn:aws:cloudformation:${region}:${ACCOUNT_ID}:stack/${nestedName}/${randomUUID()}`;
          const result = await deployStack(nested, nestedName, nestedId, values, id);
          return { stackId: nestedId, outputs: outputsOf(result.described) };
        },
      };
      const deployOne = async (logicalId: string, resource: Template["Resources"][string]): Promise<void> => {
        const deployer = DEPLOYERS[resource.Type];
        if (resource.Condition !== undefined)
          throw new TemplateError(`${logicalId}: resources with a Condition are not rehearsed by cloudbridge local.`);
        if (!deployer) {
          note(`${resource.Type}: ${ACCEPTED_WITHOUT_EFFECT.get(resource.Type) ?? "not rehearsed: no local counterpart"}`, logicalId);
          deployed.set(logicalId, placeholder(logicalId));
          return;
        }
        const properties = resolve(resource.Properties ?? {}, resolveContext) as Record<string, unknown>;
        const result = await deployer(logicalId, properties, context);
        deployed.set(logicalId, result);
        if (result.rehearsed !== false) rehearsedCounts.set(resource.Type, (rehearsedCounts.get(resource.Type) ?? 0) + 1);
        for (const property of result.notRehearsed ?? []) note(`${resource.Type}: ${property}`, logicalId);
      };
      for (const logicalId of deploymentOrder(template)) await deployOne(logicalId, template.Resources[logicalId]!);
      const readOutputs = (from: Template) => {
        described.outputs.length = 0;
        for (const [key, output] of Object.entries(from.Outputs ?? {})) {
          const value = String(resolve(output.Value, resolveContext));
          described.outputs.push({ key, value, ...(output.Description ? { description: output.Description } : {}) });
        }
      };
      readOutputs(template);
      return { described, template, deployed, deployOne, resolveContext, readOutputs };
    };

    const mainStack = await deployStack(template, stackName, stackId, {});
    const main = mainStack.described;
    const outputs: Record<string, string> = outputsOf(main);

    const update = async (): Promise<string[]> => {
      const next = readCloudAssembly(options.cdkOut, options.stackName).template;
      const { deployed, deployOne, resolveContext } = mainStack;
      const before = mainStack.template.Resources;
      const after = next.Resources;
      const added = deploymentOrder(next).filter((id) => !(id in before));
      const removed = Object.keys(before).filter((id) => !(id in after));
      const changed = Object.keys(after).filter((id) => id in before && JSON.stringify(before[id]) !== JSON.stringify(after[id]));
      const refused = [
        ...removed.filter((id) => before[id]!.Type !== "AWS::IAM::AccessKey").map((id) => `${id} (${before[id]!.Type}) removed`),
        ...changed
          .filter((id) => !["AWS::IAM::AccessKey", "AWS::SecretsManager::Secret"].includes(after[id]!.Type))
          .map((id) => `${id} (${after[id]!.Type}) changed`),
      ];
      if (refused.length > 0) {
        throw new TemplateError(
          `cloudbridge local rehearses only updates of the main stack that add resources, replace or remove access keys and change secret values; this one also has: ${refused.join(", ")}. Restart it with the new cdk.out.`,
        );
      }
      const lines: string[] = [];
      for (const id of changed.filter((id) => after[id]!.Type === "AWS::IAM::AccessKey")) {
        iam.deleteAccessKey(deployed.get(id)!.ref);
        await deployOne(id, after[id]!);
        lines.push(`${id}: replaced (a new key; the old one is deleted)`);
      }
      for (const id of added) {
        await deployOne(id, after[id]!);
        lines.push(`${id}: added (${after[id]!.Type})`);
      }
      for (const id of changed.filter((id) => after[id]!.Type === "AWS::SecretsManager::Secret")) {
        const properties = resolve(after[id]!.Properties ?? {}, resolveContext) as { SecretString?: unknown };
        if (typeof properties.SecretString === "string") secrets.update(deployed.get(id)!.ref, properties.SecretString);
        lines.push(`${id}: new secret value`);
      }
      for (const id of removed) {
        iam.deleteAccessKey(deployed.get(id)!.ref);
        deployed.delete(id);
        lines.push(`${id}: removed (the key is deleted)`);
      }
      mainStack.template = next;
      mainStack.readOutputs(next);
      for (const key of Object.keys(outputs)) delete outputs[key];
      Object.assign(outputs, outputsOf(main));
      return lines;
    };
    const notRehearsed = [...accepted].map(([line, ids]) => `${line} (${ids.length === 1 ? ids[0] : `${ids.length} resources`})`);
    return {
      endpoint,
      port,
      region,
      stackName,
      env: {
        AWS_ENDPOINT_URL: endpoint,
        AWS_REGION: region,
        AWS_ACCESS_KEY_ID: admin.accessKeyId,
        AWS_SECRET_ACCESS_KEY: admin.secretAccessKey,
      },
      outputs,
      nestedStacks: stacks
        .filter((stack) => stack !== main)
        .map((stack) => ({ stackName: stack.stackName, stackId: stack.stackId, outputs: outputsOf(stack) })),
      rehearsed: [...rehearsedCounts].map(([type, count]) => `${type} × ${count}`),
      notRehearsed,
      faultCounts,
      settle: () => notifications.drain(),
      update,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** A deployed stack: what an update of it needs. */
interface DeployedStack {
  described: StackDescription;
  template: Template;
  deployed: Map<string, Deployed>;
  deployOne(logicalId: string, resource: Template["Resources"][string]): Promise<void>;
  resolveContext: ResolveContext;
  readOutputs(from: Template): void;
}

/** What a resource that is not rehearsed answers to Ref and Fn::GetAtt: a name that says so. */
function placeholder(id: string): Deployed {
  const name = `not-rehearsed-${id}`;
  return {
    ref: name,
    attributes: new Proxy({}, { get: (_t, attribute) => `arn:aws:cloudbridge-local:::${name}/${String(attribute)}` }) as Record<
      string,
      string
    >,
  };
}
