import { Duration, RemovalPolicy, Stack } from "aws-cdk-lib";
import * as cloudwatch from "aws-cdk-lib/aws-cloudwatch";
import * as actions from "aws-cdk-lib/aws-cloudwatch-actions";
import * as iam from "aws-cdk-lib/aws-iam";
import * as kms from "aws-cdk-lib/aws-kms";
import * as sns from "aws-cdk-lib/aws-sns";
import * as subscriptions from "aws-cdk-lib/aws-sns-subscriptions";
import type * as sqs from "aws-cdk-lib/aws-sqs";
import { Construct } from "constructs";

/**
 * Someone hears of it when an event is dead-lettered: one alarm per dead-letter queue (a message is
 * waiting in it), sent to the given addresses through a topic of its own. $0.10 per alarm and month,
 * plus the topic's key, so it is opt-in (`alarms.emails`).
 *
 * The topic needs a key of its own: CloudWatch cannot publish to a topic encrypted with the AWS-managed
 * `alias/aws/sns` key (whose policy cannot name CloudWatch), so this key's policy lets CloudWatch, for
 * this account only, encrypt the messages it publishes.
 */
export class DeadLetterAlarms extends Construct {
  readonly topic: sns.Topic;

  constructor(scope: Construct, id: string, props: { emails: readonly string[]; queues: Record<string, sqs.IQueue> }) {
    super(scope, id);
    const key = new kms.Key(this, "Key", {
      description: "cloudbridge: encrypts the dead-letter alarm topic",
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.DESTROY,
      pendingWindow: Duration.days(7),
    });
    key.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: "CloudWatchAlarmsPublish",
        principals: [new iam.ServicePrincipal("cloudwatch.amazonaws.com")],
        actions: ["kms:Decrypt", "kms:GenerateDataKey*"],
        resources: ["*"],
        conditions: { StringEquals: { "aws:SourceAccount": Stack.of(this).account } },
      }),
    );
    this.topic = new sns.Topic(this, "Topic", { displayName: "cloudbridge alarms", enforceSSL: true, masterKey: key });
    // The topic's own policy replaces SNS's default one, so it must let CloudWatch publish (for this account's alarms only).
    this.topic.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: "CloudWatchAlarmsPublish",
        principals: [new iam.ServicePrincipal("cloudwatch.amazonaws.com")],
        actions: ["sns:Publish"],
        resources: [this.topic.topicArn],
        conditions: { StringEquals: { "aws:SourceAccount": Stack.of(this).account } },
      }),
    );
    for (const email of props.emails) this.topic.addSubscription(new subscriptions.EmailSubscription(email));
    for (const [name, queue] of Object.entries(props.queues)) {
      // An agent's alarm lives beside its queue (in its nested stack, when agents are spread over several).
      const scope = Stack.of(queue) === Stack.of(this) ? this : (queue.node.scope as Construct);
      const alarm = new cloudwatch.Alarm(scope, `${name}Alarm`, {
        alarmDescription: `cloudbridge: an event is waiting in the dead-letter queue of ${name} (see docs/stack.md, "Dead letters")`,
        metric: queue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5), statistic: "Maximum" }),
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
      alarm.addAlarmAction(new actions.SnsAction(this.topic));
    }
  }
}
