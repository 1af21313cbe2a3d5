import { CfnOutput, NestedStack } from "aws-cdk-lib";
import type * as iam from "aws-cdk-lib/aws-iam";
import * as sns from "aws-cdk-lib/aws-sns";
import type { Construct } from "constructs";
import { agentOutputKeys, agentStackOutputKey } from "../protocol/index.ts";
import { AgentAccess } from "./agent-access.ts";
import type { CloudbridgeConfig } from "./config.ts";

/**
 * Every agent's access (user, keys, secret, queue), in the main stack or — with `agentStacks: N` — spread
 * over N nested stacks, since CloudFormation allows 500 resources and 200 outputs per stack and an agent
 * takes 10 resources and 3 outputs. An agent's nested stack is chosen by a hash of its name, so adding
 * or removing an agent never moves another one (a move would replace its user and key).
 *
 * The agent's outputs are in the stack that holds it; with nested stacks the main stack's outputs
 * `AgentStack<n>` name them (DescribeStacks on each gives the `Agent<Name>...` outputs).
 */
export function createAgents(
  stack: Construct,
  props: { config: CloudbridgeConfig; groups: readonly iam.IGroup[]; topic: sns.ITopic; stackName: string },
): Map<string, AgentAccess> {
  const { config } = props;
  const nested: NestedStack[] = [];
  const topics = new Map<Construct, sns.ITopic>([[stack, props.topic]]);
  const scopeOf = (agent: string): Construct => {
    if (config.agentStacks === 0) return stack;
    const index = agentStackIndex(agent, config.agentStacks);
    if (!nested[index]) {
      nested[index] = new NestedStack(stack, `Agents${index + 1}`, {
        description: `cloudbridge agents, part ${index + 1} of ${config.agentStacks}`,
      });
      // The topic by its ARN: subscribing a nested stack's queue to the parent's Topic object would make the
      // nested stack depend on its own parent, which CDK refuses.
      topics.set(nested[index], sns.Topic.fromTopicArn(nested[index], "ChangeTopic", props.topic.topicArn));
    }
    return nested[index];
  };
  const agents = new Map<string, AgentAccess>();
  for (const agent of config.agents) {
    const scope = scopeOf(agent.name);
    const access = new AgentAccess(scope, `Agent-${agent.name}`, {
      agent,
      allRepos: config.repos,
      groups: props.groups,
      topic: topics.get(scope)!,
      stackName: props.stackName,
    });
    agents.set(agent.name, access);
    const keys = agentOutputKeys(agent.name);
    const output = (key: string, value: string, description: string) => new CfnOutput(scope, key, { value, description });
    output(keys.queueUrl, access.queue.queueUrl, `Agent ${agent.name}: its change queue (SQS long-poll)`);
    output(
      keys.credentialsSecretArn,
      access.credentials.secretArn,
      `Agent ${agent.name}: its access key {"accessKeyId","secretAccessKey"}`,
    );
    output(keys.repos, agent.repos.join(","), `Agent ${agent.name}: the repositories it may sync`);
  }
  nested.forEach((part, index) => {
    if (!part) return;
    new CfnOutput(stack, agentStackOutputKey(index + 1), {
      value: part.stackId,
      description: `A nested stack of agents: DescribeStacks on it gives their Agent<Name>... outputs`,
    });
  });
  return agents;
}

/** Which of `parts` nested stacks holds an agent: FNV-1a of its name, so the answer never depends on the other agents. */
export function agentStackIndex(agent: string, parts: number): number {
  let hash = 0x811c9dc5;
  for (const byte of new TextEncoder().encode(agent)) hash = Math.imul(hash ^ byte, 0x01000193) >>> 0;
  return hash % parts;
}
