import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { DeleteObjectCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { GetSecretValueCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { DeleteMessageCommand, ReceiveMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import { BucketLayout, readStackOutputs, STACK_OUTPUT, type StackSettings } from "../../protocol/index.ts";

/**
 * The deployed stack, as an agent meets it (run by `npm run test:aws`, never by `npm test`): the agent's
 * key from its secret reaches its own repositories and its own queue and nothing else, a ref written in
 * the bucket arrives on the queue of every agent of that repository through the change function, and
 * S3 refuses what the key may not do with AccessDenied. Every object it writes is under a repository's
 * prefix in `agents/<repo>/test-aws-*` or `repos/<repo>.git/refs/heads/test-aws-*`, and is deleted again.
 */
const stackName = process.env.CLOUDBRIDGE_TEST_STACK!;
const outputs = (JSON.parse(readFileSync(process.env.CLOUDBRIDGE_TEST_OUTPUTS!, "utf8")) as Record<string, Record<string, string>>)[
  stackName
];

describe(`the deployed stack ${stackName}`, () => {
  let settings: StackSettings;
  let agents: { name: string; settings: NonNullable<StackSettings["agent"]>; s3: S3Client; sqs: SQSClient }[];
  let layout: BucketLayout;

  before(async () => {
    assert.ok(outputs, `the outputs file has no stack ${stackName}`);
    const list = Object.entries(outputs).map(([OutputKey, OutputValue]) => ({ OutputKey, OutputValue }));
    settings = readStackOutputs(list);
    layout = new BucketLayout(settings.prefix);
    const names = Object.keys(outputs)
      .map((key) => /^Agent(.+)QueueUrl$/.exec(key)?.[1])
      .filter((name): name is string => name !== undefined);
    assert.ok(names.length >= 1, "the stack has at least one agent");
    const secrets = new SecretsManagerClient({ region: settings.region });
    agents = [];
    for (const outputName of names) {
      // readStackOutputs takes the agent's name; the output names carry it capitalized ("laptop-2" → "Laptop2").
      const agentSettings = readStackOutputs(list, outputName).agent!;
      const { SecretString } = await secrets.send(new GetSecretValueCommand({ SecretId: agentSettings.credentialsSecretArn }));
      const credentials = JSON.parse(SecretString!) as { accessKeyId: string; secretAccessKey: string };
      agents.push({
        name: outputName,
        settings: agentSettings,
        s3: new S3Client({ region: settings.region, credentials }),
        sqs: new SQSClient({ region: settings.region, credentials }),
      });
    }
    secrets.destroy();
  });
  after(() => {
    for (const agent of agents ?? []) {
      agent.s3.destroy();
      agent.sqs.destroy();
    }
  });

  it("has every output an agent needs", () => {
    for (const key of [STACK_OUTPUT.bucket, STACK_OUTPUT.region, STACK_OUTPUT.prefix, STACK_OUTPUT.changeTopicArn, STACK_OUTPUT.repos]) {
      assert.ok(outputs![key], key);
    }
  });

  it("an agent's key writes, reads, lists and deletes inside its own repository, and is refused elsewhere with AccessDenied", async () => {
    const agent = agents[0]!;
    const repo = agent.settings.repos[0]!;
    const key = `${layout.agentsRoot(repo)}test-aws-${randomUUID()}.json`;
    const Bucket = settings.bucket;
    await agent.s3.send(new PutObjectCommand({ Bucket, Key: key, Body: "{}" }));
    const got = await agent.s3.send(new GetObjectCommand({ Bucket, Key: key }));
    assert.equal(await got.Body!.transformToString(), "{}");
    const listed = await agent.s3.send(new ListObjectsV2Command({ Bucket, Prefix: layout.agentsRoot(repo) }));
    assert.ok(listed.Contents?.some((o) => o.Key === key));
    await agent.s3.send(new DeleteObjectCommand({ Bucket, Key: key }));

    const refused = async (what: string, send: () => Promise<unknown>) => {
      await assert.rejects(send, (error: { name?: string }) => error.name === "AccessDenied", what);
    };
    await refused("the bucket root", () => agent.s3.send(new ListObjectsV2Command({ Bucket })));
    await refused("outside the prefixes", () =>
      agent.s3.send(new PutObjectCommand({ Bucket, Key: `${layout.prefix}test-aws-outside`, Body: "" })),
    );
    const other = settings.repos.find((r) => !agent.settings.repos.includes(r));
    if (other) {
      await refused("another repository", () => agent.s3.send(new GetObjectCommand({ Bucket, Key: layout.head(other) })));
      await refused("another repository's listing", () =>
        agent.s3.send(new ListObjectsV2Command({ Bucket, Prefix: layout.repoRoot(other) })),
      );
    }
    const otherAgent = agents.find((a) => a !== agent);
    if (otherAgent) {
      await assert.rejects(
        agent.sqs.send(new ReceiveMessageCommand({ QueueUrl: otherAgent.settings.queueUrl, WaitTimeSeconds: 0 })),
        (error: { name?: string }) => /AccessDenied/.test(error.name ?? ""),
        "another agent's queue",
      );
    }
  });

  it("a ref written in the bucket reaches the queue of every agent of that repository within 20 s", async () => {
    const writer = agents[0]!;
    const repo = writer.settings.repos[0]!;
    const ref = `refs/heads/test-aws-${randomUUID()}`;
    const key = layout.ref(repo, ref);
    await writer.s3.send(new PutObjectCommand({ Bucket: settings.bucket, Key: key, Body: `${"0".repeat(40)}\n` }));
    try {
      for (const agent of agents.filter((a) => a.settings.repos.includes(repo))) {
        const deadline = Date.now() + 20_000;
        let heard = false;
        while (!heard && Date.now() < deadline) {
          const { Messages = [] } = await agent.sqs.send(
            new ReceiveMessageCommand({ QueueUrl: agent.settings.queueUrl, WaitTimeSeconds: 5, MaxNumberOfMessages: 10 }),
          );
          for (const message of Messages) {
            if (message.Body?.includes(ref)) heard = true;
            await agent.sqs.send(new DeleteMessageCommand({ QueueUrl: agent.settings.queueUrl, ReceiptHandle: message.ReceiptHandle! }));
          }
        }
        assert.ok(heard, `agent ${agent.name} heard of ${ref}`);
      }
    } finally {
      await writer.s3.send(new DeleteObjectCommand({ Bucket: settings.bucket, Key: key }));
    }
  });
});
