import { Duration, SecretValue, Tags, Validations } from "aws-cdk-lib";
import * as iam from "aws-cdk-lib/aws-iam";
import * as secretsmanager from "aws-cdk-lib/aws-secretsmanager";
import * as sns from "aws-cdk-lib/aws-sns";
import * as subscriptions from "aws-cdk-lib/aws-sns-subscriptions";
import * as sqs from "aws-cdk-lib/aws-sqs";
import { Construct } from "constructs";
import type { AgentConfig } from "./config.ts";
import { deadLetterQueue } from "./dead-letter-queue.ts";
import { repoTagKey, REPO_TAG_VALUE } from "./repository-access.ts";

/**
 * One agent's way in: an IAM user tagged with the agent's repositories (the shared, tag-conditioned
 * policies of RepositoryAccess reach only those repositories' prefixes), whose own policy reaches only
 * the agent's queue and its secret; its access key kept in Secrets Manager (never in the template or an
 * output), and the queue itself, subscribed to the change topic for those repositories only.
 *
 * Agents run on people's machines, outside AWS, so they need long-term credentials; a role to assume
 * would still need a user (or IAM Roles Anywhere and a private CA) to assume it from.
 */
export class AgentAccess extends Construct {
  readonly user: iam.User;
  readonly queue: sqs.Queue;
  readonly deadLetterQueue: sqs.Queue;
  readonly credentials: secretsmanager.Secret;

  constructor(
    scope: Construct,
    id: string,
    props: { agent: AgentConfig; allRepos: readonly string[]; groups: readonly iam.IGroup[]; topic: sns.ITopic; stackName: string },
  ) {
    super(scope, id);
    const { agent } = props;

    this.deadLetterQueue = deadLetterQueue(this, "DeadLetterQueue", "the agent's change queue and its subscription");
    this.queue = new sqs.Queue(this, "Queue", {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      // A change older than this is stale anyway: the agent reconciles with the bucket when it starts.
      retentionPeriod: Duration.days(4),
      visibilityTimeout: Duration.seconds(60),
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: 5 },
    });
    props.topic.addSubscription(
      new subscriptions.SqsSubscription(this.queue, {
        rawMessageDelivery: true,
        // Only changes to the agent's repositories (the change function sets the `repo` attribute); an agent
        // of every repository needs no filter, and SNS allows only 200 filter policies per topic.
        ...(props.allRepos.every((repo) => agent.repos.includes(repo))
          ? {}
          : { filterPolicy: { repo: sns.SubscriptionFilter.stringFilter({ allowlist: [...agent.repos] }) } }),
        deadLetterQueue: this.deadLetterQueue,
      }),
    );

    // The repositories are granted by tag (RepositoryAccess); the user's own policy reaches only its queue and its secret.
    this.user = new iam.User(this, "User", { path: `/cloudbridge/${props.stackName}/`, groups: [...props.groups] });
    for (const repo of agent.repos) Tags.of(this.user).add(repoTagKey(repo), REPO_TAG_VALUE);

    // Two key slots, so a rotation overlaps: raising keySerial to N puts key N in slot N % 2 and leaves
    // key N-1 in the other slot, still active, until the next raise replaces it (docs/deploy.md).
    const key = this.accessKeySlot(agent.keySerial);
    if (agent.keySerial > 1) this.accessKeySlot(agent.keySerial - 1);
    this.credentials = new secretsmanager.Secret(this, "Credentials", {
      description: `cloudbridge agent "${agent.name}": AWS access key for repositories ${agent.repos.join(", ")}`,
      secretObjectValue: {
        accessKeyId: SecretValue.unsafePlainText(key.accessKeyId),
        secretAccessKey: key.secretAccessKey,
      },
    });
    const policy = new iam.Policy(this, "Policy", {
      statements: agentPolicyStatements({ queueArn: this.queue.queueArn, secretArn: this.credentials.secretArn }),
    });
    this.user.attachInlinePolicy(policy);
    Validations.of(this.credentials).acknowledge({
      id: "AwsSolutions-SMG4",
      reason:
        "The secret holds an IAM access key, which Secrets Manager cannot rotate by itself; raising the agent's keySerial and " +
        "redeploying creates the new key and writes it here while the previous key stays active (docs/deploy.md).",
    });
  }

  /** The key of `serial` in its slot: odd serials in "AccessKey" (the id keys had before there were two), even in "AccessKeyEven". */
  private accessKeySlot(serial: number): iam.AccessKey {
    return new iam.AccessKey(this, serial % 2 === 1 ? "AccessKey" : "AccessKeyEven", { user: this.user, serial });
  }
}

/**
 * The agent's own inline policy: its queue, and its own secret (so the agent can pick up a rotated key
 * with the key it has). Its repositories come from its tags (RepositoryAccess); nothing else in the
 * bucket, the account or the stack is reachable with the agent's key.
 */
export function agentPolicyStatements(args: { queueArn: string; secretArn: string }): iam.PolicyStatement[] {
  return [
    new iam.PolicyStatement({
      sid: "ReceiveOwnChanges",
      actions: ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility", "sqs:GetQueueAttributes", "sqs:GetQueueUrl"],
      resources: [args.queueArn],
    }),
    new iam.PolicyStatement({
      sid: "ReadOwnKey",
      actions: ["secretsmanager:GetSecretValue"],
      resources: [args.secretArn],
    }),
  ];
}
