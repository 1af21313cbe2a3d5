import { Duration, Validations } from "aws-cdk-lib";
import type * as logs from "aws-cdk-lib/aws-logs";
import * as secretsmanager from "aws-cdk-lib/aws-secretsmanager";
import type * as sns from "aws-cdk-lib/aws-sns";
import * as subscriptions from "aws-cdk-lib/aws-sns-subscriptions";
import { Construct } from "constructs";
import { FUNCTION_SERVICE_NAME, SERVICE_NAME_VARIABLE, xmppFanoutEnvironment } from "../protocol/index.ts";
import { CloudbridgeFunction } from "./lambda-function.ts";
import type { XmppConfig } from "./config.ts";

/**
 * SNS change topic → the XMPP function → a headline to each configured JID. The notifier account's
 * password lives in Secrets Manager: the stack creates the secret with a generated password (register
 * the account with it, or overwrite it with the account's password), or uses the secret named in the
 * configuration. Only this function can read it.
 *
 * Failures never touch the agents' queues (they are separate subscriptions of the topic). An event the
 * function cannot deliver is retried twice by Lambda and then kept in the function's dead-letter queue;
 * an event SNS cannot hand to Lambda at all goes to the subscription's dead-letter queue (the same one).
 */
export class XmppNotifier extends Construct {
  readonly fn: CloudbridgeFunction;
  readonly secret: secretsmanager.ISecret;

  constructor(scope: Construct, id: string, props: { xmpp: XmppConfig; topic: sns.ITopic; logRetention: logs.RetentionDays }) {
    super(scope, id);
    const { xmpp } = props;
    if (xmpp.secretArn) {
      this.secret = secretsmanager.Secret.fromSecretCompleteArn(this, "Credentials", xmpp.secretArn);
    } else {
      const secret = new secretsmanager.Secret(this, "Credentials", {
        description: `cloudbridge XMPP notifier ${xmpp.notifier}: {"jid","password"}`,
        generateSecretString: {
          secretStringTemplate: JSON.stringify({ jid: xmpp.notifier }),
          generateStringKey: "password",
          passwordLength: 32,
          excludePunctuation: true,
        },
      });
      Validations.of(secret).acknowledge({
        id: "AwsSolutions-SMG4",
        reason:
          "An XMPP account password can only be changed on the XMPP server, which Secrets Manager rotation cannot reach; rotate " +
          "it there and put the new value in this secret (the function re-reads it within 5 minutes, or at once after a refused login).",
      });
      this.secret = secret;
    }

    this.fn = new CloudbridgeFunction(this, "XmppFanout", {
      entry: "functions/xmpp-fanout/handler.ts",
      description: "cloudbridge: change topic → XMPP headlines with a <changed xmlns='urn:cloudbridge:1'/> payload",
      // @xmpp/client's SASL and TLS are CPU-bound for a moment; 256 MB gets a proportionate CPU share.
      memorySize: 256,
      timeout: Duration.seconds(30),
      logRetention: props.logRetention,
      // A burst of changes must not become hundreds of simultaneous logins to the XMPP server; SNS retries
      // a throttled delivery (Lambda's asynchronous queue holds the events meanwhile).
      ...(xmpp.maxConcurrency > 0 ? { reservedConcurrentExecutions: xmpp.maxConcurrency } : {}),
      environment: {
        ...xmppFanoutEnvironment({
          service: xmpp.service,
          domain: xmpp.domain,
          recipients: xmpp.recipients,
          secretId: this.secret.secretArn,
          timeoutMs: 10_000,
        }),
        [SERVICE_NAME_VARIABLE]: FUNCTION_SERVICE_NAME.xmppFanout,
      },
    });
    this.secret.grantRead(this.fn.role);
    props.topic.addSubscription(new subscriptions.LambdaSubscription(this.fn.function, { deadLetterQueue: this.fn.deadLetterQueue }));
  }
}
