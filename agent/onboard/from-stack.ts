import { CloudFormationClient, DescribeStacksCommand, type Output } from "@aws-sdk/client-cloudformation";
import { GetSecretValueCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { accessEndpoint, CONNECT_TIMEOUT_MS, IDLE_TIMEOUT_MS } from "../../objectstore/index.ts";
import {
  agentStackOutputKey,
  assertEndpointUrl,
  assertRepoName,
  BucketLayout,
  readStackOutputs,
  type StackSettings,
} from "../../protocol/index.ts";
import { parseKey } from "../credentials/agent-key.ts";
import type { AccessKey } from "../credentials/profile-file.ts";
import { ensureDeployment, storeFor } from "../folder/index.ts";
import { OnboardError } from "./errors.ts";

/**
 * Everything a machine needs to run one agent of a deployed stack for one repository: where the
 * repository is, how the agent hears of changes, and the agent's own key. Read once, with the
 * administrator's credentials (`readOnboarding`), or taken from an invite the administrator made.
 */
export interface Onboarding {
  stack: string;
  agent: string;
  repo: string;
  bucket: string;
  prefix: string;
  region: string;
  /** The endpoint the stack was reached at when it is not AWS's (the local cloud). */
  endpoint?: string;
  queueUrl: string;
  /** The agent's secret: its key may read it, which is how a rotated key is picked up. */
  keySecret: string;
  key: AccessKey;
  xmpp?: { service: string; jid?: string; password?: string };
}

export interface ReadOnboardingOptions {
  stack: string;
  agent: string;
  repo: string;
  /** The endpoint for every AWS call (the local cloud), else the SDK's configuration. */
  endpoint?: string;
  region?: string;
  xmppJid?: string;
  xmppPassword?: string;
}

/** The endpoint the AWS SDK would use for S3, when one is configured (`cloudbridge local`). */
export function configuredEndpoint(explicit?: string): string | undefined {
  return explicit !== undefined ? assertEndpointUrl(explicit, "--endpoint") : accessEndpoint({});
}

/**
 * With the administrator's credentials (the SDK's chain): the stack's outputs (DescribeStacks, and its
 * nested agent stacks when it has them), the agent's current key from its secret, and the bucket's marker
 * and README written once (If-None-Match: *) so an agent's key never has to create them.
 */
export async function readOnboarding(options: ReadOnboardingOptions): Promise<Onboarding> {
  const repo = assertRepoName(options.repo);
  const endpoint = configuredEndpoint(options.endpoint);
  const common = {
    ...(endpoint ? { endpoint } : {}),
    ...(options.region ? { region: options.region } : {}),
    requestHandler: { connectionTimeout: CONNECT_TIMEOUT_MS, socketTimeout: IDLE_TIMEOUT_MS },
  };
  const cloudformation = new CloudFormationClient(common);
  let settings: StackSettings;
  let key: AccessKey;
  try {
    const outputs = await describeOutputs(cloudformation, options.stack);
    const parts = outputs.filter((o) => /^AgentStack\d+$/.test(o.OutputKey ?? ""));
    for (let part = 1; parts.some((o) => o.OutputKey === agentStackOutputKey(part)); part++) {
      const nested = parts.find((o) => o.OutputKey === agentStackOutputKey(part))!.OutputValue!;
      outputs.push(...(await describeOutputs(cloudformation, nested)));
    }
    const stack = readStackOutputs(outputs);
    try {
      settings = readStackOutputs(outputs, options.agent);
    } catch {
      throw new OnboardError(
        "unknown-agent",
        `the stack ${options.stack} has no agent ${JSON.stringify(options.agent)}: add it to "agents" and deploy, or use one of its agents.`,
      );
    }
    if (!settings.agent!.repos.includes(repo)) {
      throw new OnboardError(
        "repository-not-granted",
        `agent ${options.agent} of the stack ${options.stack} may not sync ${repo} (it may sync ${settings.agent!.repos.join(", ")}${stack.repos.includes(repo) ? "" : `; the stack serves ${stack.repos.join(", ")}`}): add it to the agent's "repos" and deploy.`,
      );
    }
    const secrets = new SecretsManagerClient({ ...common, region: settings.region });
    try {
      const { SecretString } = await secrets.send(new GetSecretValueCommand({ SecretId: settings.agent!.credentialsSecretArn }));
      const parsed = parseKey(SecretString);
      if (!parsed)
        throw new OnboardError("bad-agent-secret", `the agent's secret ${settings.agent!.credentialsSecretArn} holds no access key.`);
      key = parsed;
    } finally {
      secrets.destroy();
    }
  } finally {
    cloudformation.destroy();
  }
  // The administrator writes the deployment's marker and README, so the agent's first look at the bucket finds them.
  const location = { bucket: settings.bucket, prefix: settings.prefix, repo };
  const adminStore = storeFor({ location, endpoint, region: settings.region });
  try {
    await ensureDeployment(adminStore, new BucketLayout(settings.prefix), location);
  } finally {
    adminStore.destroy();
  }
  const xmppService = settings.xmppService;
  return {
    stack: options.stack,
    agent: options.agent,
    repo,
    bucket: settings.bucket,
    prefix: settings.prefix,
    region: settings.region,
    ...(endpoint ? { endpoint } : {}),
    queueUrl: settings.agent!.queueUrl,
    keySecret: settings.agent!.credentialsSecretArn,
    key,
    ...(xmppService
      ? {
          xmpp: {
            service: xmppService,
            ...(options.xmppJid ? { jid: options.xmppJid } : {}),
            ...(options.xmppPassword ? { password: options.xmppPassword } : {}),
          },
        }
      : {}),
  };
}

async function describeOutputs(client: CloudFormationClient, stackName: string): Promise<Output[]> {
  try {
    const { Stacks } = await client.send(new DescribeStacksCommand({ StackName: stackName }));
    return [...(Stacks?.[0]?.Outputs ?? [])];
  } catch (error) {
    const name = (error as { name?: string }).name;
    if (name === "ValidationError")
      throw new OnboardError("no-such-stack", `there is no stack ${stackName} in this account and region: check --stack and AWS_REGION.`, {
        cause: error,
      });
    if (name === "AccessDenied" || name === "AccessDeniedException")
      throw new OnboardError(
        "not-an-administrator",
        `reading the stack ${stackName} was refused: onboarding needs the administrator's credentials (or an invite the administrator made: \`cloudbridge invite\`).`,
        { cause: error },
      );
    throw error;
  }
}
