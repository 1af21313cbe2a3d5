import { CfnOutput, Duration, Size, Stack, Validations, type StackProps } from "aws-cdk-lib";
import * as events from "aws-cdk-lib/aws-events";
import * as targets from "aws-cdk-lib/aws-events-targets";
import * as iam from "aws-cdk-lib/aws-iam";
import * as kms from "aws-cdk-lib/aws-kms";
import type * as logs from "aws-cdk-lib/aws-logs";
import * as s3 from "aws-cdk-lib/aws-s3";
import * as s3n from "aws-cdk-lib/aws-s3-notifications";
import { SqsEventSource } from "aws-cdk-lib/aws-lambda-event-sources";
import * as sns from "aws-cdk-lib/aws-sns";
import * as sqs from "aws-cdk-lib/aws-sqs";
import * as subscriptions from "aws-cdk-lib/aws-sns-subscriptions";
import type { Construct } from "constructs";
import {
  bucketEventRoutes,
  type BucketEventRoute,
  BucketLayout,
  changeFanoutEnvironment,
  compactionEnvironment,
  FUNCTION_SERVICE_NAME,
  SERVICE_NAME_VARIABLE,
  STACK_OUTPUT,
} from "../protocol/index.ts";
import type { AgentAccess } from "./agent-access.ts";
import { createAgents } from "./agents.ts";
import { CloudbridgeBucket } from "./bucket.ts";
import { DeadLetterAlarms } from "./dead-letter-alarms.ts";
import type { CloudbridgeConfig } from "./config.ts";
import { CloudbridgeFunction } from "./lambda-function.ts";
import { acknowledgePrefixWildcards } from "./nag.ts";
import { RepositoryAccess } from "./repository-access.ts";
import { XmppNotifier } from "./xmpp-notifier.ts";

export interface CloudbridgeStackProps extends StackProps {
  readonly config: CloudbridgeConfig;
}

/**
 * Everything cloudbridge needs in the user's account: the bucket, the change topic with the change
 * function behind the bucket's events, one queue and one key per agent, the optional XMPP notifier, and
 * the compaction function. Outputs carry what `cloudbridge init --stack <name>` needs (protocol/stack-outputs.ts).
 */
export class CloudbridgeStack extends Stack {
  readonly bucket: s3.Bucket;
  readonly topic: sns.Topic;
  readonly agents: Map<string, AgentAccess>;

  constructor(scope: Construct, id: string, props: CloudbridgeStackProps) {
    super(scope, id, props);
    const { config } = props;
    const layout = new BucketLayout(config.prefix);
    const logRetention = config.logRetentionDays as logs.RetentionDays;

    const storage = new CloudbridgeBucket(this, "Bucket", config);
    this.bucket = storage.bucket;

    this.topic = new sns.Topic(this, "ChangeTopic", {
      displayName: "cloudbridge changes",
      enforceSSL: true,
      // The AWS-managed SNS key: encrypted at rest with no key to pay for; its key policy lets this
      // account's principals use it through SNS, which is all the publisher needs.
      masterKey: kms.Alias.fromAliasName(this, "SnsKey", "alias/aws/sns"),
    });
    for (const email of config.notifications.emails) this.topic.addSubscription(new subscriptions.EmailSubscription(email));
    for (const url of config.notifications.https)
      this.topic.addSubscription(new subscriptions.UrlSubscription(url, { protocol: sns.SubscriptionProtocol.HTTPS }));

    // S3 event → change function → one SNS message per ref or content change.
    const change = new CloudbridgeFunction(this, "ChangeFanout", {
      entry: "functions/change-fanout/handler.ts",
      description: "cloudbridge: bucket events under repos/ and annex/ → change messages on the change topic",
      memorySize: 256,
      timeout: Duration.seconds(30),
      logRetention,
      environment: {
        ...changeFanoutEnvironment({ topicArn: this.topic.topicArn, prefix: layout.prefix }),
        [SERVICE_NAME_VARIABLE]: FUNCTION_SERVICE_NAME.changeFanout,
      },
    });
    this.topic.grantPublish(change.role);
    const fedByBucket: Record<BucketEventRoute["target"], CloudbridgeFunction> = { changeFanout: change };
    const eventType = { ObjectCreated: s3.EventType.OBJECT_CREATED, ObjectRemoved: s3.EventType.OBJECT_REMOVED } as const;
    for (const route of bucketEventRoutes(layout)) {
      for (const event of route.events) {
        this.bucket.addEventNotification(eventType[event], new s3n.LambdaDestination(fedByBucket[route.target].function), {
          prefix: route.prefix,
        });
      }
    }
    // aws-cdk-lib's own deploy-time helper that writes the notification configuration onto the bucket.
    const notificationsHandler = this.node.tryFindChild("BucketNotificationsHandler050a0587b7544547bf325f094a3db834");
    if (notificationsHandler) {
      Validations.of(notificationsHandler).acknowledge({
        id: "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]",
        reason:
          "aws-cdk-lib's BucketNotificationsHandler runs only during deployments to set the bucket's event notifications; CDK " +
          "creates its role with the basic execution policy (CloudWatch Logs only) and offers no way to replace it.",
      });
    }

    const repositories = new RepositoryAccess(this, "Repositories", { bucket: this.bucket, layout, repos: config.repos });
    this.agents = createAgents(this, { config, groups: repositories.groups, topic: this.topic, stackName: this.stackName });

    const xmpp = config.xmpp ? new XmppNotifier(this, "Xmpp", { xmpp: config.xmpp, topic: this.topic, logRetention }) : undefined;

    // Pack compaction: on a schedule for every repository, and on demand (`aws lambda invoke`).
    const compactionSettings = {
      bucket: this.bucket.bucketName,
      prefix: layout.prefix,
      repos: config.repos,
      graceMinutes: config.compaction.graceMinutes,
    };
    const compaction = new CloudbridgeFunction(this, "Compaction", {
      entry: "functions/compaction/handler.ts",
      description: "cloudbridge: merges each repository's packs into one; old packs are unlisted, then deleted after a grace period",
      // isomorphic-git holds packs in memory (docs/git.md): memory is the limit on repository size here.
      memorySize: 2048,
      timeout: Duration.minutes(15),
      ephemeralStorageSize: Size.mebibytes(2048),
      logRetention,
      environment: {
        ...compactionEnvironment(compactionSettings),
        [SERVICE_NAME_VARIABLE]: FUNCTION_SERVICE_NAME.compaction,
      },
    });
    // Every repository of the bucket, by one wildcard: a policy that named each repository passed IAM's
    // 10,240 characters per role at about 95 of them.
    compaction.role.addToPolicy(
      new iam.PolicyStatement({
        sid: "CompactPacks",
        actions: ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"],
        resources: [`${this.bucket.bucketArn}/${layout.reposRoot()}*`],
      }),
    );
    compaction.role.addToPolicy(
      new iam.PolicyStatement({
        sid: "ListRepositories",
        actions: ["s3:ListBucket"],
        resources: [this.bucket.bucketArn],
        conditions: { StringLike: { "s3:prefix": [`${layout.reposRoot()}*`] } },
      }),
    );
    acknowledgePrefixWildcards(
      compaction.role,
      this.bucket,
      [layout.reposRoot()],
      "Compaction serves every repository of the bucket: object actions end in a wildcard only below the repositories' git " +
        "prefix, where pack names are content hashes known only at run time; ListBucket is conditioned on s3:prefix to the same prefix.",
    );
    // The schedule's invocation queues one message per repository; each message is its own invocation.
    const compactionQueue = new sqs.Queue(this, "CompactionQueue", {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      // Lambda's advice for a queue that feeds a function: six times the function's timeout.
      visibilityTimeout: Duration.minutes(90),
      retentionPeriod: Duration.days(4),
      deadLetterQueue: { queue: compaction.deadLetterQueue, maxReceiveCount: 3 },
    });
    compactionQueue.grantSendMessages(compaction.role);
    for (const [name, value] of Object.entries(compactionEnvironment({ ...compactionSettings, queueUrl: compactionQueue.queueUrl }))) {
      compaction.function.addEnvironment(name, value);
    }
    compaction.function.addEventSource(
      // Two at a time: compactions are independent, and each holds its repository's packs in memory.
      new SqsEventSource(compactionQueue, { batchSize: 1, maxConcurrency: 2, reportBatchItemFailures: true }),
    );
    new events.Rule(this, "CompactionSchedule", {
      description: "cloudbridge: compact every repository's packs",
      schedule: events.Schedule.expression(config.compaction.schedule),
      targets: [
        new targets.LambdaFunction(compaction.function, {
          event: events.RuleTargetInput.fromObject({}),
          retryAttempts: 2,
          deadLetterQueue: compaction.deadLetterQueue,
        }),
      ],
    });

    if (config.alarms) {
      new DeadLetterAlarms(this, "DeadLetters", {
        emails: config.alarms.emails,
        queues: {
          ChangeFanout: change.deadLetterQueue,
          Compaction: compaction.deadLetterQueue,
          ...(xmpp ? { XmppFanout: xmpp.fn.deadLetterQueue } : {}),
          ...Object.fromEntries([...this.agents].map(([name, access]) => [`Agent-${name}`, access.deadLetterQueue])),
        },
      });
    }

    const output = (key: string, value: string, description: string) => new CfnOutput(this, key, { value, description });
    output(STACK_OUTPUT.bucket, this.bucket.bucketName, "The bucket (cloudbridge.bucket)");
    output(STACK_OUTPUT.region, this.region, "The bucket's region (AWS_REGION)");
    output(STACK_OUTPUT.prefix, layout.prefix || "/", 'The prefix inside the bucket (cloudbridge.prefix); "/" means none');
    output(STACK_OUTPUT.changeTopicArn, this.topic.topicArn, "The change topic");
    output(STACK_OUTPUT.repos, config.repos.join(","), "The repositories this stack serves");
    output(STACK_OUTPUT.changeFunction, change.function.functionName, "The change fan-out function");
    output(
      STACK_OUTPUT.compactionFunction,
      compaction.function.functionName,
      'Compact on demand: aws lambda invoke --function-name <this> --payload \'{"repo":"<repo>"}\'',
    );
    if (xmpp) {
      output(STACK_OUTPUT.xmppFunction, xmpp.fn.function.functionName, "The XMPP fan-out function");
      output(STACK_OUTPUT.xmppSecretArn, xmpp.secret.secretArn, 'The XMPP notifier\'s {"jid","password"}');
      output(STACK_OUTPUT.xmppService, config.xmpp!.service, "The XMPP server agents listen on (cloudbridge.xmppService)");
    }
  }
}
