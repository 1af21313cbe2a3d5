import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { CloudFormationClient, DescribeStacksCommand } from "@aws-sdk/client-cloudformation";
import { DeleteObjectCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { GetSecretValueCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { PublishCommand, SNSClient } from "@aws-sdk/client-sns";
import { ReceiveMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import { S3ObjectStore } from "../../../objectstore/index.ts";
import { startStack, synthCloudAssembly, TWO_AGENTS_NESTED, type RunningStack } from "../../helpers/stack-cloud.ts";

type Credentials = { accessKeyId: string; secretAccessKey: string };

/** The AWS error a call ends with: its name (S3's code) and HTTP status. */
async function failure(call: Promise<unknown>): Promise<{ name: string; status: number | undefined }> {
  try {
    await call;
  } catch (error) {
    const e = error as { name: string; $metadata?: { httpStatusCode?: number } };
    return { name: e.name, status: e.$metadata?.httpStatusCode };
  }
  return { name: "succeeded", status: 200 };
}

describe("cloudbridge local --stack: the synthesized stack (agents in nested stacks, repositories granted by tag), its keys and its policies, over HTTP", () => {
  let stack: RunningStack;
  let alice: Credentials;
  let bucket: string;
  const clients: { destroy(): void }[] = [];
  const s3 = (credentials: Credentials) => {
    const client = new S3Client({ region: stack.region, endpoint: stack.endpoint, credentials, forcePathStyle: true, maxAttempts: 1 });
    clients.push(client);
    return client;
  };
  const sqs = (credentials: Credentials) => {
    const client = new SQSClient({ region: stack.region, endpoint: stack.endpoint, credentials, maxAttempts: 1 });
    clients.push(client);
    return client;
  };
  const secrets = (credentials: Credentials) => {
    const client = new SecretsManagerClient({ region: stack.region, endpoint: stack.endpoint, credentials, maxAttempts: 1 });
    clients.push(client);
    return client;
  };

  before(async () => {
    stack = await startStack(synthCloudAssembly(TWO_AGENTS_NESTED));
    alice = await stack.agentCredentials("alice");
    bucket = stack.outputs.BucketName!;
  });
  after(async () => {
    for (const client of clients) client.destroy();
    await stack?.stop();
  });

  it("answers DescribeStacks with the stack's outputs and, for each nested stack the main stack names, the agents' outputs, to the administrator only", async () => {
    const admin = { accessKeyId: stack.env.AWS_ACCESS_KEY_ID!, secretAccessKey: stack.env.AWS_SECRET_ACCESS_KEY! };
    const cloudformation = new CloudFormationClient({ region: stack.region, endpoint: stack.endpoint, credentials: admin });
    const agentView = new CloudFormationClient({ region: stack.region, endpoint: stack.endpoint, credentials: alice, maxAttempts: 1 });
    clients.push(cloudformation, agentView);
    const describe = async (name: string) => {
      const { Stacks } = await cloudformation.send(new DescribeStacksCommand({ StackName: name }));
      assert.equal(Stacks?.length, 1);
      assert.equal(Stacks[0]!.StackStatus, "CREATE_COMPLETE");
      return { stack: Stacks[0]!, outputs: Object.fromEntries((Stacks[0]!.Outputs ?? []).map((o) => [o.OutputKey, o.OutputValue])) };
    };
    const main = await describe(stack.stackName);
    assert.equal(main.outputs.BucketName, bucket);
    assert.equal(main.outputs.AgentAliceRepos, undefined, "the agents' outputs are in the nested stacks");
    // The way onboarding finds an agent: DescribeStacks on each AgentStack<n> the main stack names.
    const agentStacks = await Promise.all(["AgentStack1", "AgentStack2"].map((key) => describe(main.outputs[key]!)));
    const holding = (agent: string) => agentStacks.filter((s) => s.outputs[`Agent${agent}Repos`] !== undefined);
    assert.equal(holding("Alice").length, 1);
    assert.equal(holding("Bob").length, 1);
    assert.notEqual(holding("Alice")[0], holding("Bob")[0], "the two agents live in different nested stacks");
    assert.equal(holding("Alice")[0]!.outputs.AgentAliceRepos, "notes");
    assert.equal(holding("Alice")[0]!.outputs.AgentAliceQueueUrl, stack.agentOutputs("alice").queueUrl);
    assert.equal(holding("Alice")[0]!.stack.ParentId, main.stack.StackId);
    for (const name of [stack.stackName, main.outputs.AgentStack1!]) {
      assert.deepEqual(await failure(agentView.send(new DescribeStacksCommand({ StackName: name }))), {
        name: "AccessDenied",
        status: 403,
      });
    }
  });

  it("lists what it does not rehearse when it starts", () => {
    assert.ok(
      stack.notRehearsed.some((line) => line.startsWith("AWS::Logs::LogGroup")),
      stack.notRehearsed.join("\n"),
    );
    assert.ok(
      stack.notRehearsed.some((line) => line.includes("VersioningConfiguration")),
      stack.notRehearsed.join("\n"),
    );
  });

  it("with agent A's key (access to its repository by its IAM tag): its own repository works; another repo's prefix, the bucket root, version deletion, another agent's queue and any other secret are refused", async () => {
    const a = s3(alice);
    await a.send(new PutObjectCommand({ Bucket: bucket, Key: "repos/notes.git/HEAD", Body: "ref: refs/heads/main\n" }));
    const own = await a.send(new GetObjectCommand({ Bucket: bucket, Key: "repos/notes.git/HEAD" }));
    assert.equal(await own.Body!.transformToString(), "ref: refs/heads/main\n");
    const listed = await a.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: "repos/notes.git/" }));
    assert.deepEqual(
      listed.Contents?.map((o) => o.Key),
      ["repos/notes.git/HEAD"],
    );
    await sqs(alice).send(new ReceiveMessageCommand({ QueueUrl: stack.agentOutputs("alice").queueUrl, WaitTimeSeconds: 0 }));

    const denied = { name: "AccessDenied", status: 403 };
    assert.deepEqual(await failure(a.send(new GetObjectCommand({ Bucket: bucket, Key: "repos/photos.git/HEAD" }))), denied);
    assert.deepEqual(await failure(a.send(new PutObjectCommand({ Bucket: bucket, Key: "repos/photos.git/HEAD", Body: "x" }))), denied);
    assert.deepEqual(await failure(a.send(new PutObjectCommand({ Bucket: bucket, Key: "annex/photos/SHA256E-s1--x", Body: "x" }))), denied);
    assert.deepEqual(await failure(a.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: "repos/photos.git/" }))), denied);
    assert.deepEqual(await failure(a.send(new ListObjectsV2Command({ Bucket: bucket }))), denied, "the bucket root");
    assert.deepEqual(await failure(a.send(new PutObjectCommand({ Bucket: bucket, Key: "elsewhere.txt", Body: "x" }))), denied);
    assert.deepEqual(
      await failure(
        a.send(new DeleteObjectCommand({ Bucket: bucket, Key: "repos/notes.git/HEAD", VersionId: "3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY" })),
      ),
      denied,
      "deleting a version",
    );
    const queue = await failure(
      sqs(alice).send(new ReceiveMessageCommand({ QueueUrl: stack.agentOutputs("bob").queueUrl, WaitTimeSeconds: 0 })),
    );
    assert.equal(queue.status, 403);
    assert.match(queue.name, /AccessDenied/);
    // Its own secret only (so a machine can pick up a rotated key with the key it has); every other is refused.
    const ownKey = await secrets(alice).send(new GetSecretValueCommand({ SecretId: stack.agentOutputs("alice").credentialsSecretArn }));
    assert.equal((JSON.parse(ownKey.SecretString!) as { accessKeyId: string }).accessKeyId, alice.accessKeyId);
    for (const secret of [stack.agentOutputs("bob").credentialsSecretArn, stack.outputs.XmppSecretArn!]) {
      assert.deepEqual(
        await failure(secrets(alice).send(new GetSecretValueCommand({ SecretId: secret }))),
        { name: "AccessDeniedException", status: 400 },
        secret,
      );
    }
    const sns = new SNSClient({ region: stack.region, endpoint: stack.endpoint, credentials: alice, maxAttempts: 1 });
    clients.push(sns);
    assert.deepEqual(await failure(sns.send(new PublishCommand({ TopicArn: stack.outputs.ChangeTopicArn, Message: "x" }))), {
      name: "AuthorizationErrorException",
      status: 403,
    });
  });

  it("a ref written with agent A's key reaches A's queue through the bundled change function and the topic, and not B's (filter policy)", async () => {
    await s3(alice).send(new PutObjectCommand({ Bucket: bucket, Key: "repos/notes.git/refs/heads/main", Body: `${"a".repeat(40)}\n` }));
    const { Messages } = await sqs(alice).send(
      new ReceiveMessageCommand({ QueueUrl: stack.agentOutputs("alice").queueUrl, WaitTimeSeconds: 10, MessageAttributeNames: ["All"] }),
    );
    assert.equal(Messages?.length, 1, stack.stderr());
    assert.equal(Messages[0]!.MessageAttributes?.repo?.StringValue, "notes");
    const bob = await stack.agentCredentials("bob");
    const other = await sqs(bob).send(new ReceiveMessageCommand({ QueueUrl: stack.agentOutputs("bob").queueUrl, WaitTimeSeconds: 1 }));
    assert.equal(other.Messages, undefined);
  });

  it("a wrong secret gets SignatureDoesNotMatch, an unknown key InvalidAccessKeyId", async () => {
    // One character changed (to one it is not: a secret that already ended in "x" would stay right).
    const last = alice.secretAccessKey.at(-1) === "x" ? "y" : "x";
    const wrong = s3({ accessKeyId: alice.accessKeyId, secretAccessKey: `${alice.secretAccessKey.slice(0, -1)}${last}` });
    assert.deepEqual(await failure(wrong.send(new GetObjectCommand({ Bucket: bucket, Key: "repos/notes.git/HEAD" }))), {
      name: "SignatureDoesNotMatch",
      status: 403,
    });
    const unknown = s3({ accessKeyId: "AKIAUNKNOWNUNKNOWN00", secretAccessKey: alice.secretAccessKey });
    assert.deepEqual(await failure(unknown.send(new GetObjectCommand({ Bucket: bucket, Key: "repos/notes.git/HEAD" }))), {
      name: "InvalidAccessKeyId",
      status: 403,
    });
    const sqsWrong = sqs({ accessKeyId: alice.accessKeyId, secretAccessKey: "not-the-secret" });
    assert.equal((await failure(sqsWrong.send(new ReceiveMessageCommand({ QueueUrl: stack.agentOutputs("alice").queueUrl })))).status, 403);
    const secretsWrong = secrets({ accessKeyId: alice.accessKeyId, secretAccessKey: "not-the-secret" });
    assert.equal(
      (await failure(secretsWrong.send(new GetSecretValueCommand({ SecretId: stack.agentOutputs("alice").credentialsSecretArn })))).name,
      "SignatureDoesNotMatch",
    );
  });

  it("a missing key in its own repository: S3 says 403 (the agent may not list the bucket), and the object store reads it as missing; elsewhere it stays refused", async () => {
    const a = s3(alice);
    assert.deepEqual(await failure(a.send(new GetObjectCommand({ Bucket: bucket, Key: "repos/notes.git/refs/heads/none" }))), {
      name: "AccessDenied",
      status: 403,
    });
    const store = new S3ObjectStore(bucket, a);
    assert.equal(await store.get("repos/notes.git/refs/heads/none"), undefined);
    assert.equal(await store.head("repos/notes.git/refs/heads/none"), undefined);
    assert.equal(await store.getStream("annex/notes/SHA256E-s1--none"), undefined);
    assert.ok(await store.head("repos/notes.git/HEAD"), "a present key is still found");
    await assert.rejects(store.get("repos/photos.git/refs/heads/main"), (error: Error) => error.name === "AccessDenied");
  });
});
