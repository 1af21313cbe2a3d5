import { ProtocolError } from "./errors.ts";
import { normalizePrefix } from "./names.ts";

/**
 * The cloud stack's outputs, by name: what `cdk deploy` prints and what `cloudbridge init --stack <name>`
 * reads (CloudFormation DescribeStacks), so nobody copies an ARN by hand. The stack writes them with these
 * names; the agent reads them back with `readStackOutputs`.
 */
export const STACK_OUTPUT = {
  bucket: "BucketName",
  region: "Region",
  prefix: "Prefix",
  changeTopicArn: "ChangeTopicArn",
  repos: "Repos",
  changeFunction: "ChangeFunctionName",
  xmppFunction: "XmppFunctionName",
  xmppSecretArn: "XmppSecretArn",
  xmppService: "XmppService",
  compactionFunction: "CompactionFunctionName",
} as const;

/** `laptop-2` → `Laptop2`: output names are letters and digits only. */
export function agentOutputName(agent: string): string {
  return agent
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean)
    .map((part) => part[0]!.toUpperCase() + part.slice(1))
    .join("");
}

export const agentOutputKeys = (agent: string) => {
  const name = agentOutputName(agent);
  return {
    queueUrl: `Agent${name}QueueUrl`,
    credentialsSecretArn: `Agent${name}CredentialsSecretArn`,
    repos: `Agent${name}Repos`,
  };
};

/**
 * With agents spread over nested stacks (`agentStacks` in the stack's configuration), the main stack's
 * outputs `AgentStack1`, `AgentStack2`... hold those stacks' ids; an agent's `Agent<Name>...` outputs are
 * in one of them (DescribeStacks on each, and pass the outputs together to `readStackOutputs`).
 */
export const agentStackOutputKey = (part: number) => `AgentStack${part}`;

export interface StackSettings {
  bucket: string;
  region: string;
  /** "" or ending in "/". */
  prefix: string;
  changeTopicArn: string;
  repos: string[];
  /** The XMPP server the change function announces on (absent without XMPP, or from a stack deployed before this output). */
  xmppService?: string;
  /** Present when the agent's name was given and the stack has outputs for it. */
  agent?: { queueUrl: string; credentialsSecretArn: string; repos: string[] };
}

/** The settings an agent needs, from DescribeStacks' `Outputs`. Throws naming the missing output. */
export function readStackOutputs(
  outputs: readonly { OutputKey?: string | undefined; OutputValue?: string | undefined }[],
  agent?: string,
): StackSettings {
  const values = new Map(outputs.map((o) => [o.OutputKey, o.OutputValue ?? ""]));
  const get = (key: string): string => {
    const value = values.get(key);
    if (value === undefined) {
      throw new ProtocolError(
        "missing-stack-output",
        `The stack has no output ${key}: is it a cloudbridge stack, deployed from this version?`,
      );
    }
    return value;
  };
  const list = (text: string) => text.split(",").filter(Boolean);
  const settings: StackSettings = {
    bucket: get(STACK_OUTPUT.bucket),
    region: get(STACK_OUTPUT.region),
    // CloudFormation outputs cannot be empty strings, so the stack writes "/" for "no prefix".
    prefix: normalizePrefix(get(STACK_OUTPUT.prefix)),
    changeTopicArn: get(STACK_OUTPUT.changeTopicArn),
    repos: list(get(STACK_OUTPUT.repos)),
  };
  const xmppService = values.get(STACK_OUTPUT.xmppService);
  if (xmppService) settings.xmppService = xmppService;
  if (agent !== undefined) {
    const keys = agentOutputKeys(agent);
    settings.agent = { queueUrl: get(keys.queueUrl), credentialsSecretArn: get(keys.credentialsSecretArn), repos: list(get(keys.repos)) };
  }
  return settings;
}
