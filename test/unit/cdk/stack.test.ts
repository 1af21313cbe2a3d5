import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { before, describe, it } from "node:test";
import { Match, type Template } from "aws-cdk-lib/assertions";
import { agentOutputKeys, readStackOutputs, STACK_OUTPUT } from "../../../protocol/stack-outputs.ts";
import { allows, CDK_CONTEXT, fold, synthStack, type PolicyStatement } from "../../helpers/cdk.ts";

const list = <T>(value: T | T[]): T[] => (Array.isArray(value) ? value : [value]);

/** Every feature on: a prefix, two agents, e-mail and HTTPS subscriptions, XMPP, a custom schedule. */
const config = JSON.parse(readFileSync(new URL("fixtures/full-stack.json", import.meta.url), "utf8")) as unknown;

type Resources = Record<string, { Type: string; Properties: Record<string, unknown>; DeletionPolicy?: string }>;

let template: Template;
let resources: Resources;
const ofType = (type: string) => Object.entries(resources).filter(([, r]) => r.Type === type);
const logicalId = (type: string, prefix: string) => {
  const found = ofType(type).find(([id]) => id.startsWith(prefix));
  assert.ok(found, `no ${type} whose logical id starts with ${prefix}`);
  return found[0];
};

before(() => {
  template = synthStack(config).template;
  resources = template.toJSON().Resources as Resources;
});

describe("the bucket", () => {
  it("blocks all public access, is encrypted at rest, versioned, logged, and kept on stack deletion", () => {
    const data = resources[logicalId("AWS::S3::Bucket", "BucketData")]!;
    assert.deepEqual(data.Properties.PublicAccessBlockConfiguration, {
      BlockPublicAcls: true,
      BlockPublicPolicy: true,
      IgnorePublicAcls: true,
      RestrictPublicBuckets: true,
    });
    assert.deepEqual(data.Properties.BucketEncryption, {
      ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: "AES256" } }],
    });
    assert.deepEqual(data.Properties.VersioningConfiguration, { Status: "Enabled" });
    assert.deepEqual(fold(data.Properties.LoggingConfiguration), {
      DestinationBucketName: `<${logicalId("AWS::S3::Bucket", "BucketAccessLogs")}>`,
      LogFilePrefix: "s3-access/",
    });
    assert.equal(data.DeletionPolicy, "Retain");
    const logs = resources[logicalId("AWS::S3::Bucket", "BucketAccessLogs")]!;
    assert.equal((logs.Properties.PublicAccessBlockConfiguration as Record<string, boolean>).BlockPublicPolicy, true);
  });

  it("denies every request without TLS, or with TLS older than 1.2, on both buckets", () => {
    for (const [, policy] of ofType("AWS::S3::BucketPolicy")) {
      const statements = (fold(policy.Properties.PolicyDocument) as { Statement: Record<string, unknown>[] }).Statement;
      const deny = (condition: unknown) =>
        statements.find(
          (s) => s.Effect === "Deny" && s.Action === "s3:*" && s.Principal && JSON.stringify(s.Condition) === JSON.stringify(condition),
        );
      assert.ok(deny({ Bool: { "aws:SecureTransport": "false" } }), "TLS-only statement");
      assert.ok(deny({ NumericLessThan: { "s3:TlsVersion": 1.2 } }), "TLS 1.2 statement");
    }
  });

  it("has lifecycle rules: abort incomplete uploads, expire noncurrent versions after the configured days, retire compacted packs per repo", () => {
    const rules = (
      resources[logicalId("AWS::S3::Bucket", "BucketData")]!.Properties.LifecycleConfiguration as { Rules: Record<string, unknown>[] }
    ).Rules;
    const byId = Object.fromEntries(rules.map((r) => [r.Id, r]));
    assert.deepEqual(byId["abort-incomplete-uploads"]!.AbortIncompleteMultipartUpload, { DaysAfterInitiation: 7 });
    assert.equal(byId["expire-noncurrent-versions"]!.Prefix, "team/");
    assert.deepEqual(byId["expire-noncurrent-versions"]!.NoncurrentVersionExpiration, { NoncurrentDays: 45 });
    assert.equal(byId["expire-noncurrent-versions"]!.ExpiredObjectDeleteMarker, true);
    for (const repo of ["notes", "photos"]) {
      const rule = byId[`retire-compacted-packs-${repo}`]!;
      assert.equal(rule.Prefix, `team/repos/${repo}.git/objects/pack/`);
      assert.deepEqual(rule.NoncurrentVersionExpiration, { NoncurrentDays: 3 });
      assert.equal(rule.Status, "Enabled");
    }
  });

  it("sends ObjectCreated events under <prefix>repos/ and <prefix>annex/ (not agents/, not the marker), and ObjectRemoved under <prefix>repos/, to the change function", () => {
    const [[, notifications]] = ofType("Custom::S3BucketNotifications") as [[string, Resources[string]]];
    const configs = (
      fold(notifications.Properties.NotificationConfiguration) as { LambdaFunctionConfigurations: Record<string, unknown>[] }
    ).LambdaFunctionConfigurations;
    const change = `arn:<${logicalId("AWS::Lambda::Function", "ChangeFanoutFunction")}>`;
    assert.deepEqual(
      configs.map((c) => ({ events: c.Events, fn: c.LambdaFunctionArn, filter: c.Filter })),
      [
        ["team/repos/", "s3:ObjectCreated:*"],
        ["team/repos/", "s3:ObjectRemoved:*"],
        ["team/annex/", "s3:ObjectCreated:*"],
      ].map(([prefix, event]) => ({
        events: [event],
        fn: change,
        filter: { Key: { FilterRules: [{ Name: "prefix", Value: prefix }] } },
      })),
    );
  });
});

describe("the functions", () => {
  it("run Node.js 24 on arm64, with a dead-letter queue, Lambda's two retries, a timeout, memory and a log group with retention", () => {
    const ours = ["ChangeFanoutFunction", "XmppXmppFanoutFunction", "CompactionFunction"].map((p) => logicalId("AWS::Lambda::Function", p));
    for (const id of ours) {
      const fn = resources[id]!.Properties;
      assert.equal(fn.Runtime, "nodejs24.x", id);
      assert.deepEqual(fn.Architectures, ["arm64"], id);
      assert.match(String((fold(fn.DeadLetterConfig) as { TargetArn: string }).TargetArn), /^arn:<.*DeadLetterQueue/, id);
      assert.ok(Number(fn.Timeout) >= 10 && Number(fn.Timeout) <= 900, id);
      assert.ok(Number(fn.MemorySize) >= 256, id);
      const logging = fold(fn.LoggingConfig) as { LogFormat: string; LogGroup: string };
      assert.equal(logging.LogFormat, "JSON", id);
      assert.equal(resources[logging.LogGroup.slice(1, -1)]?.Type, "AWS::Logs::LogGroup", id);
      const invoke = ofType("AWS::Lambda::EventInvokeConfig").find(([, r]) => (r.Properties.FunctionName as { Ref: string }).Ref === id);
      assert.equal(invoke?.[1].Properties.MaximumRetryAttempts, 2, id);
    }
    for (const [id, group] of ofType("AWS::Logs::LogGroup")) assert.equal(group.Properties.RetentionInDays, 30, id);
    assert.equal(resources[logicalId("AWS::Lambda::Function", "CompactionFunction")]!.Properties.Timeout, 900);
  });

  it("give each function its own role with no AWS managed policy", () => {
    for (const prefix of ["ChangeFanoutRole", "XmppXmppFanoutRole", "CompactionRole"]) {
      const role = resources[logicalId("AWS::IAM::Role", prefix)]!;
      assert.equal(role.Properties.ManagedPolicyArns, undefined, prefix);
    }
  });

  it("let each function reach only what it uses: its logs and DLQ, plus the topic, the secret or the repositories' git prefixes", async () => {
    const policy = (prefix: string) =>
      (fold(resources[logicalId("AWS::IAM::Policy", prefix)]!.Properties.PolicyDocument) as { Statement: PolicyStatement[] }).Statement;
    const bucket = `arn:<${logicalId("AWS::S3::Bucket", "BucketData")}>`;
    const topic = `<${logicalId("AWS::SNS::Topic", "ChangeTopic")}>`;
    const secret = `<${logicalId("AWS::SecretsManager::Secret", "XmppCredentials")}>`;
    const change = policy("ChangeFanoutRoleDefaultPolicy");
    const xmpp = policy("XmppXmppFanoutRoleDefaultPolicy");
    const compaction = policy("CompactionRoleDefaultPolicy");
    const actions = (statements: PolicyStatement[]) => statements.flatMap((st) => [st.Action].flat()).sort();
    const common = ["logs:CreateLogStream", "logs:PutLogEvents", "sqs:SendMessage"];
    assert.deepEqual(actions(change), [...common, "sns:Publish"].sort());
    assert.ok(await allows(change, "sns:Publish", topic));
    assert.deepEqual(actions(xmpp), [...common, "secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue"].sort());
    assert.ok(await allows(xmpp, "secretsmanager:GetSecretValue", secret));
    assert.ok(
      !(await allows(xmpp, "secretsmanager:GetSecretValue", `<${logicalId("AWS::SecretsManager::Secret", "AgentlaptopCredentials")}>`)),
    );
    assert.ok(await allows(compaction, "s3:DeleteObject", `${bucket}/team/repos/notes.git/objects/pack/pack-${"a".repeat(40)}.pack`));
    assert.ok(
      !(await allows(compaction, "s3:DeleteObject", `${bucket}/team/annex/notes/SHA256E-s1--${"b".repeat(64)}`)),
      "compaction never touches content",
    );
    assert.ok(!(await allows(compaction, "s3:ListBucket", bucket, { "s3:prefix": "team/annex/" })));
    for (const statements of [change, xmpp, compaction])
      assert.ok(!(await allows(statements, "s3:GetObject", `${bucket}/team/cloudbridge.json`)));
  });

  it("pass the change function its topic and prefix, the XMPP function its settings but never a password", () => {
    const change = resources[logicalId("AWS::Lambda::Function", "ChangeFanoutFunction")]!.Properties;
    const env = (fold(change.Environment) as { Variables: Record<string, string> }).Variables;
    assert.equal(env.CHANGE_TOPIC_ARN, `<${logicalId("AWS::SNS::Topic", "ChangeTopic")}>`);
    assert.equal(env.BUCKET_PREFIX, "team/");
    const xmpp = (
      fold(resources[logicalId("AWS::Lambda::Function", "XmppXmppFanoutFunction")]!.Properties.Environment) as {
        Variables: Record<string, string>;
      }
    ).Variables;
    assert.equal(xmpp.XMPP_SERVICE, "xmpps://xmpp.example.org:5223");
    assert.equal(xmpp.XMPP_RECIPIENTS, "laptop@example.org,desktop@example.org/home");
    assert.equal(xmpp.XMPP_SECRET_ID, `<${logicalId("AWS::SecretsManager::Secret", "XmppCredentials")}>`);
    assert.ok(!Object.keys(xmpp).some((k) => /PASSWORD/i.test(k)));
  });

  it("let only the XMPP function read the XMPP secret, which the stack generates with the notifier's jid", () => {
    const secretId = logicalId("AWS::SecretsManager::Secret", "XmppCredentials");
    assert.deepEqual(resources[secretId]!.Properties.GenerateSecretString, {
      SecretStringTemplate: '{"jid":"notifier@example.org"}',
      GenerateStringKey: "password",
      PasswordLength: 32,
      ExcludePunctuation: true,
    });
    const readers = ofType("AWS::IAM::Policy").filter(([, p]) => JSON.stringify(p.Properties.PolicyDocument).includes(secretId));
    assert.deepEqual(
      readers.map(([id]) => id.replace(/[0-9A-F]{8}$/, "")),
      ["XmppXmppFanoutRoleDefaultPolicy"],
    );
  });

  it("run compaction on the configured schedule for every repository, and on demand", () => {
    const [[, rule]] = ofType("AWS::Events::Rule") as [[string, Resources[string]]];
    assert.equal(rule.Properties.ScheduleExpression, "cron(0 3 * * ? *)");
    const [target] = rule.Properties.Targets as Record<string, unknown>[];
    // The schedule's invocation only queues one message per repository; the queue invokes the function once per message.
    assert.deepEqual(JSON.parse(String(target!.Input)), {});
    const queue = logicalId("AWS::SQS::Queue", "CompactionQueue");
    const [[, mapping]] = ofType("AWS::Lambda::EventSourceMapping") as [[string, Resources[string]]];
    assert.deepEqual(fold(mapping.Properties), {
      BatchSize: 1,
      EventSourceArn: `arn:<${queue}>`,
      FunctionName: `<${logicalId("AWS::Lambda::Function", "CompactionFunction")}>`,
      FunctionResponseTypes: ["ReportBatchItemFailures"],
      ScalingConfig: { MaximumConcurrency: 2 },
    });
    const redrive = resources[queue]!.Properties.RedrivePolicy as { maxReceiveCount: number };
    assert.equal(redrive.maxReceiveCount, 3);
    const env = (
      fold(resources[logicalId("AWS::Lambda::Function", "CompactionFunction")]!.Properties.Environment) as {
        Variables: Record<string, string>;
      }
    ).Variables;
    assert.equal(env.REPOS, "notes,photos");
    assert.equal(env.COMPACTION_GRACE_MINUTES, "30");
    assert.equal(env.COMPACTION_QUEUE_URL, `<${queue}>`);
  });
});

describe("fan-out", () => {
  it("the change topic is encrypted, refuses publishers without TLS, and feeds e-mail, HTTPS, the XMPP function and one raw queue per agent", () => {
    const topicId = logicalId("AWS::SNS::Topic", "ChangeTopic");
    const topic = resources[topicId]!;
    assert.equal(fold(topic.Properties.KmsMasterKeyId), "arn:<AWS::Partition>:kms:<AWS::Region>:<AWS::AccountId>:alias/aws/sns");
    const topicPolicy = resources[logicalId("AWS::SNS::TopicPolicy", "ChangeTopicPolicy")]!;
    const topicStatements = (topicPolicy.Properties.PolicyDocument as { Statement: Record<string, unknown>[] }).Statement;
    assert.ok(
      topicStatements.some(
        (st) =>
          st.Effect === "Deny" &&
          st.Action === "sns:Publish" &&
          JSON.stringify(st.Condition) === '{"Bool":{"aws:SecureTransport":"false"}}',
      ),
    );
    const subs = ofType("AWS::SNS::Subscription")
      .map(([, s]) => fold(s.Properties) as Record<string, unknown>)
      .filter((s) => s.TopicArn === `<${topicId}>`);
    assert.deepEqual(subs.map((s) => s.Protocol).sort(), ["email", "https", "lambda", "sqs", "sqs"]);
    const desktop = subs.find((s) => s.Protocol === "sqs" && String(s.Endpoint).includes("Agentdesktop"))!;
    assert.equal(desktop.RawMessageDelivery, true);
    assert.deepEqual(desktop.FilterPolicy, { repo: ["notes"] });
    assert.match(String((desktop.RedrivePolicy as { deadLetterTargetArn: string }).deadLetterTargetArn), /AgentdesktopDeadLetterQueue/);
    const lambda = subs.find((s) => s.Protocol === "lambda")!;
    assert.match(String((lambda.RedrivePolicy as { deadLetterTargetArn: string }).deadLetterTargetArn), /XmppXmppFanoutDeadLetterQueue/);
  });

  it("every queue is encrypted, TLS-only, and every non-DLQ queue has a dead-letter queue", () => {
    for (const [id, queue] of ofType("AWS::SQS::Queue")) {
      assert.equal(queue.Properties.SqsManagedSseEnabled, true, id);
      if (!id.includes("DeadLetterQueue")) {
        assert.match(
          String((fold(queue.Properties.RedrivePolicy) as { deadLetterTargetArn: string }).deadLetterTargetArn),
          /DeadLetterQueue/,
          id,
        );
      }
    }
    for (const [id, policy] of ofType("AWS::SQS::QueuePolicy")) {
      const statements = (policy.Properties.PolicyDocument as { Statement: Record<string, unknown>[] }).Statement;
      assert.ok(
        statements.some((st) => st.Effect === "Deny" && JSON.stringify(st.Condition) === '{"Bool":{"aws:SecureTransport":"false"}}'),
        id,
      );
    }
  });
});

describe("dead letters", () => {
  it("with alarms configured, an alarm per dead-letter queue e-mails the operators when a message waits there", () => {
    const dlqs = ofType("AWS::SQS::Queue")
      .filter(([id]) => id.includes("DeadLetterQueue"))
      .map(([id]) => id);
    assert.equal(dlqs.length, 5, "change, XMPP, compaction, and one per agent");
    const alarms = ofType("AWS::CloudWatch::Alarm").map(([, a]) => fold(a.Properties) as Record<string, unknown>);
    const alarmTopic = `<${logicalId("AWS::SNS::Topic", "DeadLettersTopic")}>`;
    assert.deepEqual(
      alarms.map((a) => (a.Dimensions as { Value: string }[])[0]!.Value).sort(),
      dlqs.map((id) => `<${id}.QueueName>`).sort(),
    );
    for (const alarm of alarms) {
      assert.equal(alarm.MetricName, "ApproximateNumberOfMessagesVisible");
      assert.equal(alarm.Threshold, 1);
      assert.equal(alarm.ComparisonOperator, "GreaterThanOrEqualToThreshold");
      assert.deepEqual(alarm.AlarmActions, [alarmTopic]);
    }
    const email = ofType("AWS::SNS::Subscription")
      .map(([, s]) => fold(s.Properties) as Record<string, unknown>)
      .find((s) => s.TopicArn === alarmTopic);
    assert.deepEqual([email?.Protocol, email?.Endpoint], ["email", "ops@example.org"]);
    // CloudWatch cannot publish to a topic under the AWS-managed SNS key: this topic has its own key, rotated,
    // whose policy lets CloudWatch of this account (only) encrypt what it publishes.
    const keyId = logicalId("AWS::KMS::Key", "DeadLettersKey");
    const topicProps = fold(resources[logicalId("AWS::SNS::Topic", "DeadLettersTopic")]!.Properties) as { KmsMasterKeyId: string };
    assert.equal(topicProps.KmsMasterKeyId, `arn:<${keyId}>`);
    const key = fold(resources[keyId]!.Properties) as { EnableKeyRotation: boolean; KeyPolicy: { Statement: Record<string, unknown>[] } };
    assert.equal(key.EnableKeyRotation, true);
    const cloudwatch = key.KeyPolicy.Statement.find((st) => JSON.stringify(st.Principal) === '{"Service":"cloudwatch.amazonaws.com"}');
    assert.deepEqual(cloudwatch?.Action, ["kms:Decrypt", "kms:GenerateDataKey*"]);
    assert.deepEqual(cloudwatch?.Condition, { StringEquals: { "aws:SourceAccount": "<AWS::AccountId>" } });
  });

  it("the alarm topic's policy lets CloudWatch of this account publish, and still refuses publishers without TLS", () => {
    const topic = logicalId("AWS::SNS::Topic", "DeadLettersTopic");
    const policies = ofType("AWS::SNS::TopicPolicy")
      .map(([, p]) => fold(p.Properties) as { Topics: string[]; PolicyDocument: { Statement: Record<string, unknown>[] } })
      .filter((p) => p.Topics.includes(`<${topic}>`));
    assert.equal(policies.length, 1);
    const statements = policies[0]!.PolicyDocument.Statement;
    const publish = statements.find(
      (st) => st.Effect === "Allow" && JSON.stringify(st.Principal) === '{"Service":"cloudwatch.amazonaws.com"}',
    );
    assert.deepEqual(
      { Action: publish?.Action, Resource: publish?.Resource, Condition: publish?.Condition },
      { Action: "sns:Publish", Resource: `<${topic}>`, Condition: { StringEquals: { "aws:SourceAccount": "<AWS::AccountId>" } } },
    );
    assert.ok(statements.some((st) => st.Effect === "Deny" && JSON.stringify(st.Condition) === '{"Bool":{"aws:SecureTransport":"false"}}'));
  });
});

describe("agents' access", () => {
  const inlineOf = (agent: string): PolicyStatement[] => {
    const users = ofType("AWS::IAM::Policy").filter(([id]) => id.startsWith(`Agent${agent}Policy`));
    assert.equal(users.length, 1);
    const policy = fold(users[0]![1].Properties) as { PolicyDocument: { Statement: PolicyStatement[] }; Users: string[] };
    assert.deepEqual(policy.Users, [`<${logicalId("AWS::IAM::User", `Agent${agent}User`)}>`]);
    return policy.PolicyDocument.Statement;
  };
  const userOf = (agent: string) => resources[logicalId("AWS::IAM::User", `Agent${agent}User`)]!.Properties;
  /** What IAM evaluates for the agent: its inline policy and its groups' managed policies. */
  const policyOf = (agent: string): PolicyStatement[] => {
    const groups = new Set((fold(userOf(agent).Groups) as string[]).map((ref) => ref.slice(1, -1)));
    const managed = groups.size
      ? [...groups].flatMap((group) => (fold(resources[group]!.Properties.ManagedPolicyArns) as string[]).map((ref) => ref.slice(1, -1)))
      : [];
    return [
      ...inlineOf(agent),
      ...managed.flatMap((id) => (fold(resources[id]!.Properties.PolicyDocument) as { Statement: PolicyStatement[] }).Statement),
    ];
  };
  /** The agent's tags, as IAM puts them into every request's context. */
  const tagsOf = (agent: string) =>
    Object.fromEntries((userOf(agent).Tags as { Key: string; Value: string }[]).map((t) => [`aws:PrincipalTag/${t.Key}`, t.Value]));
  const agentAllows = (agent: string, action: string, resource: string, context: Record<string, string> = {}) =>
    allows(policyOf(agent), action, resource, { ...tagsOf(agent), ...context });
  const bucket = () => `arn:<${logicalId("AWS::S3::Bucket", "BucketData")}>`;
  const queue = (agent: string) => `arn:<${logicalId("AWS::SQS::Queue", `Agent${agent}Queue`)}>`;
  const secret = (agent: string) => `<${logicalId("AWS::SecretsManager::Secret", `Agent${agent}Credentials`)}>`;

  it("the agent's own policy is exactly its queue and its own secret; its repositories are its tags", () => {
    assert.deepEqual(inlineOf("desktop"), [
      {
        Sid: "ReceiveOwnChanges",
        Effect: "Allow",
        Action: ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility", "sqs:GetQueueAttributes", "sqs:GetQueueUrl"],
        Resource: queue("desktop"),
      },
      { Sid: "ReadOwnKey", Effect: "Allow", Action: "secretsmanager:GetSecretValue", Resource: secret("desktop") },
    ]);
    assert.deepEqual(tagsOf("desktop"), { "aws:PrincipalTag/cloudbridge/repo/notes": "sync" });
    assert.deepEqual(tagsOf("laptop"), {
      "aws:PrincipalTag/cloudbridge/repo/notes": "sync",
      "aws:PrincipalTag/cloudbridge/repo/photos": "sync",
    });
  });

  it("grants its own repository, queue and secret, and denies another repo's prefix, other prefixes, another agent's queue and secret and everything else", async () => {
    const b = bucket();
    const allowed = (action: string, resource: string, context?: Record<string, string>) =>
      agentAllows("desktop", action, resource, context);
    assert.ok(await allowed("s3:PutObject", `${b}/team/repos/notes.git/objects/pack/pack-${"a".repeat(40)}.pack`));
    assert.ok(await allowed("s3:GetObject", `${b}/team/annex/notes/SHA256E-s1--${"b".repeat(64)}`));
    assert.ok(await allowed("s3:PutObject", `${b}/team/agents/notes/desktop.json`));
    assert.ok(await allowed("s3:GetObject", `${b}/team/cloudbridge.json`));
    assert.ok(await allowed("s3:ListBucket", b, { "s3:prefix": "team/repos/notes.git/refs/" }));
    assert.ok(await allowed("s3:PutObject", `${b}/team/keys/notes/keyring.json`), "an encrypted repository's key ring");
    assert.ok(await allowed("s3:ListBucket", b, { "s3:prefix": "team/keys/notes/keyring.json" }), "so a missing key ring answers 404");
    assert.ok(await allowed("sqs:ReceiveMessage", queue("desktop")));
    assert.ok(await allowed("secretsmanager:GetSecretValue", secret("desktop")));
    // Another repository of the same bucket: no object, no listing.
    for (const key of [
      "team/repos/photos.git/HEAD",
      "team/annex/photos/x",
      "team/agents/photos/x.json",
      "team/keys/photos/keyring.json",
      "team/repos/notes.gitx/HEAD",
    ]) {
      for (const action of ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"])
        assert.ok(!(await allowed(action, `${b}/${key}`)), `${action} ${key}`);
    }
    assert.ok(!(await allowed("s3:ListBucket", b, { "s3:prefix": "team/repos/photos.git/" })));
    assert.ok(!(await allowed("s3:ListBucket", b, { "s3:prefix": "team/" })));
    assert.ok(!(await allowed("s3:ListBucket", b)), "ListBucket without a prefix (the whole bucket) is not granted");
    // Outside the deployment prefix, other buckets, other services, the bucket's configuration.
    assert.ok(!(await allowed("s3:GetObject", `${b}/repos/notes.git/HEAD`)));
    assert.ok(!(await allowed("s3:GetObject", "arn:aws:s3:::another-bucket/team/repos/notes.git/HEAD")));
    assert.ok(!(await allowed("s3:PutBucketPolicy", b)));
    assert.ok(!(await allowed("s3:DeleteObjectVersion", `${b}/team/repos/notes.git/HEAD`)), "no permanent deletion of versions");
    assert.ok(!(await allowed("sqs:ReceiveMessage", queue("laptop"))));
    assert.ok(!(await allowed("sqs:SendMessage", queue("desktop"))));
    assert.ok(!(await allowed("secretsmanager:GetSecretValue", secret("laptop"))));
    assert.ok(!(await allowed("secretsmanager:GetSecretValue", "arn:aws:secretsmanager:us-east-1:000000000000:secret:another-AbCdEf")));
    assert.ok(!(await allowed("sns:Publish", "*")));
    assert.ok(
      !policyOf("desktop").some((s) => list(s.Action).some((a) => /^(iam|sts):/.test(a))),
      "no IAM or STS action: tags cannot be changed",
    );
    // Without the tag, the shared policies grant nothing: the tags are the grant.
    assert.ok(!(await allows(policyOf("desktop"), "s3:GetObject", `${b}/team/repos/notes.git/HEAD`)));
    // The laptop syncs both repositories.
    assert.ok(await agentAllows("laptop", "s3:GetObject", `${b}/team/repos/photos.git/HEAD`));
  });

  it("rotates an agent's key with an overlap: raising keySerial adds the new key in the other slot and keeps the previous one", () => {
    for (const [, key] of ofType("AWS::IAM::AccessKey")) assert.equal(key.Properties.Serial, 1);
    const keys = (serial: number) => {
      const t = synthStack({ repos: ["notes"], agents: [{ name: "laptop", repos: ["notes"], keySerial: serial }] }).template.toJSON();
      const found = Object.entries(t.Resources as Resources).filter(([, r]) => r.Type === "AWS::IAM::AccessKey");
      const secret = JSON.stringify(
        Object.values(t.Resources as Resources).find((r) => r.Type === "AWS::SecretsManager::Secret")!.Properties,
      );
      return { slots: Object.fromEntries(found.map(([id, r]) => [id.replace(/[0-9A-F]{8}$/, ""), r.Properties.Serial])), secret };
    };
    const two = keys(2);
    assert.deepEqual(two.slots, { AgentlaptopAccessKey: 1, AgentlaptopAccessKeyEven: 2 });
    assert.match(two.secret, /AgentlaptopAccessKeyEven[0-9A-F]{8}/, "the secret holds the new key");
    // The next raise replaces the older key (1 → 3) and keeps key 2, which the agents use by then.
    const three = keys(3);
    assert.deepEqual(three.slots, { AgentlaptopAccessKey: 3, AgentlaptopAccessKeyEven: 2 });
    assert.doesNotMatch(three.secret, /AccessKeyEven/);
  });

  it("keeps each agent's access key in its own secret, never in an output", () => {
    const outputs = template.toJSON().Outputs as Record<string, { Value: unknown }>;
    const keyIds = ofType("AWS::IAM::AccessKey").map(([id]) => id);
    assert.equal(keyIds.length, 2);
    for (const output of Object.values(outputs)) for (const id of keyIds) assert.ok(!JSON.stringify(output.Value).includes(id));
    for (const agent of ["laptop", "desktop"]) {
      const secret = fold(resources[logicalId("AWS::SecretsManager::Secret", `Agent${agent}Credentials`)]!.Properties) as {
        SecretString: string;
      };
      assert.match(
        secret.SecretString,
        new RegExp(
          `"accessKeyId":"<Agent${agent}AccessKey[0-9A-F]{8}>","secretAccessKey":"<Agent${agent}AccessKey[0-9A-F]{8}.SecretAccessKey>"`,
        ),
      );
    }
  });
});

describe("outputs", () => {
  it("carry what `cloudbridge init --stack` needs, under the names protocol/stack-outputs.ts reads", () => {
    const outputs = template.toJSON().Outputs as Record<string, { Value: unknown }>;
    const described = Object.entries(outputs).map(([OutputKey, o]) => ({
      OutputKey,
      OutputValue: String(fold(o.Value)),
    }));
    const settings = readStackOutputs(described, "laptop");
    assert.equal(settings.bucket, `<${logicalId("AWS::S3::Bucket", "BucketData")}>`);
    assert.equal(settings.prefix, "team/");
    assert.deepEqual(settings.repos, ["notes", "photos"]);
    assert.equal(settings.changeTopicArn, `<${logicalId("AWS::SNS::Topic", "ChangeTopic")}>`);
    assert.equal(settings.agent?.queueUrl, `<${logicalId("AWS::SQS::Queue", "AgentlaptopQueue")}>`);
    assert.equal(settings.agent?.credentialsSecretArn, `<${logicalId("AWS::SecretsManager::Secret", "AgentlaptopCredentials")}>`);
    assert.deepEqual(settings.agent?.repos, ["notes", "photos"]);
    assert.equal(settings.xmppService, (config as { xmpp: { service: string } }).xmpp.service, "onboarding configures XMPP from the stack");
    for (const key of [
      STACK_OUTPUT.region,
      STACK_OUTPUT.xmppSecretArn,
      STACK_OUTPUT.compactionFunction,
      agentOutputKeys("desktop").queueUrl,
    ]) {
      assert.ok(outputs[key], key);
    }
    assert.throws(() => readStackOutputs(described, "phone"), /no output AgentPhoneQueueUrl/);
  });
});

describe("cdk.json's own configuration", () => {
  it("synthesizes with cdk-nag on, without XMPP, with the documented defaults", () => {
    const { template: plain } = synthStack();
    plain.resourceCountIs("AWS::Lambda::Function", 3); // change, compaction, and CDK's notification helper
    plain.hasResourceProperties("AWS::S3::Bucket", Match.objectLike({ VersioningConfiguration: { Status: "Enabled" } }));
    assert.equal(CDK_CONTEXT.notices, false);
    assert.equal(CDK_CONTEXT["cli-telemetry"], false);
  });
});
