import { Duration, SecretValue, Validations } from "aws-cdk-lib";
import * as iam from "aws-cdk-lib/aws-iam";
import type * as s3 from "aws-cdk-lib/aws-s3";
import * as secretsmanager from "aws-cdk-lib/aws-secretsmanager";
import * as sns from "aws-cdk-lib/aws-sns";
import * as subscriptions from "aws-cdk-lib/aws-sns-subscriptions";
import * as sqs from "aws-cdk-lib/aws-sqs";
import { Construct } from "constructs";
import type { BucketLayout } from "../protocol/index.ts";
import type { AgentConfig } from "./config.ts";
import { deadLetterQueue } from "./dead-letter-queue.ts";
import { acknowledgePrefixWildcards } from "./nag.ts";

/**
 * One agent's way in: an IAM user whose only policy reaches the bucket prefixes of the agent's own
 * repositories and the agent's own queue, its access key kept in Secrets Manager (never in the template
 * or an output), and the queue itself, subscribed to the change topic for those repositories only.
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
    props: { agent: AgentConfig; bucket: s3.IBucket; layout: BucketLayout; topic: sns.ITopic; stackName: string },
  ) {
    super(scope, id);
    const { agent, bucket, layout } = props;

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
        // Only changes to the agent's repositories (the change function sets the `repo` attribute).
        filterPolicy: { repo: sns.SubscriptionFilter.stringFilter({ allowlist: [...agent.repos] }) },
        deadLetterQueue: this.deadLetterQueue,
      }),
    );

    this.user = new iam.User(this, "User", { path: `/cloudbridge/${props.stackName}/` });
    const statements = agentPolicyStatements({ bucketArn: bucket.bucketArn, layout, repos: agent.repos, queueArn: this.queue.queueArn });
    const policy = new iam.Policy(this, "Policy", { statements });
    this.user.attachInlinePolicy(policy);
    acknowledgePrefixWildcards(
      policy,
      bucket,
      agent.repos.flatMap((repo) => [layout.repoRoot(repo), layout.annexRoot(repo), layout.agentsRoot(repo), layout.keysRoot(repo)]),
      "Object actions end in a wildcard only below this agent's own repository prefixes: git packs, annex keys and agent " +
        "records have names chosen at run time. ListBucket is conditioned on s3:prefix to the same prefixes.",
    );

    const key = new iam.AccessKey(this, "AccessKey", { user: this.user, serial: agent.keySerial });
    this.credentials = new secretsmanager.Secret(this, "Credentials", {
      description: `cloudbridge agent "${agent.name}": AWS access key for repositories ${agent.repos.join(", ")}`,
      secretObjectValue: {
        accessKeyId: SecretValue.unsafePlainText(key.accessKeyId),
        secretAccessKey: key.secretAccessKey,
      },
    });
    Validations.of(this.credentials).acknowledge({
      id: "AwsSolutions-SMG4",
      reason:
        "The secret holds an IAM access key, which Secrets Manager cannot rotate by itself; raising the agent's keySerial and " +
        "redeploying replaces the key and this secret together (docs/stack.md).",
    });
  }
}

/**
 * The agent's whole policy: read and write inside its repositories' prefixes, read the format marker and
 * README, list only under its prefixes, use its own queue. Nothing else in the bucket, the account or
 * the stack is reachable with the agent's key.
 */
export function agentPolicyStatements(args: {
  bucketArn: string;
  layout: BucketLayout;
  repos: readonly string[];
  queueArn: string;
}): iam.PolicyStatement[] {
  const { bucketArn, layout, repos } = args;
  const prefixes = repos.flatMap((repo) => [layout.repoRoot(repo), layout.annexRoot(repo), layout.agentsRoot(repo), layout.keysRoot(repo)]);
  return [
    new iam.PolicyStatement({
      sid: "ReadWriteOwnRepositories",
      actions: ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"],
      resources: prefixes.map((prefix) => `${bucketArn}/${prefix}*`),
    }),
    new iam.PolicyStatement({
      sid: "ReadAndCreateBucketMarker",
      // `cloudbridge init` writes these two once (If-None-Match: *); every agent reads them.
      actions: ["s3:GetObject", "s3:PutObject"],
      resources: [`${bucketArn}/${layout.formatMarker()}`, `${bucketArn}/${layout.readme()}`],
    }),
    new iam.PolicyStatement({
      sid: "ListOwnRepositories",
      actions: ["s3:ListBucket"],
      resources: [bucketArn],
      conditions: { StringLike: { "s3:prefix": prefixes.map((prefix) => `${prefix}*`) } },
    }),
    new iam.PolicyStatement({
      sid: "ReceiveOwnChanges",
      actions: ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility", "sqs:GetQueueAttributes", "sqs:GetQueueUrl"],
      resources: [args.queueArn],
    }),
  ];
}
