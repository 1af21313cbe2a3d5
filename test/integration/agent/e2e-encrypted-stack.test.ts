import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readFile, rename, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { GetObjectCommand, ListBucketsCommand, ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import { GetSecretValueCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { ReceiveMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import { agentEnv, cliOk } from "../../helpers/agents.ts";
import { startProsody, type TestProsody } from "../../helpers/prosody.ts";
import { startStack, synthCloudAssembly, type RunningStack } from "../../helpers/stack-cloud.ts";
import { connectTestXmpp, type TestXmppClient } from "../../helpers/xmpp-client.ts";

/**
 * An encrypted repository synced under the rehearsed stack (`cloudbridge local --stack`: every request signed,
 * authorized, and written to the stack's S3 server access logs; notifications through SNS/SQS and a real
 * prosody): nothing the access-log bucket holds, no stanza an XMPP client receives and no message an agent's
 * queue receives names a file or holds its content. A clear repository beside it shows the same scans find
 * what is there (its content hash, in the access logs and in the XMPP stanzas).
 */
const XMPP_PASSWORD = "alice-xmpp-password";

describe("an encrypted repository under the rehearsed stack: access logs and notifications hold nothing in clear", () => {
  let prosody: TestProsody;
  let stack: RunningStack;
  let spy: TestXmppClient;
  let work: string;
  let admin: S3Client;
  /** What must never show in clear: every file name, path segment, content, and content hash. */
  const secrets = new Map<string, Buffer>();

  before(async () => {
    prosody = await startProsody();
    await prosody.register("alice", XMPP_PASSWORD);
    stack = await startStack(
      synthCloudAssembly({
        repos: ["vault", "clearnotes"],
        agents: [
          { name: "alice", repos: ["vault", "clearnotes"] },
          { name: "bob", repos: ["vault"] },
        ],
        xmpp: {
          service: prosody.service,
          notifier: `notifier@${prosody.domain}`,
          recipients: [`alice@${prosody.domain}`],
          maxConcurrency: 0,
        },
      }),
    );
    const adminKey = { accessKeyId: stack.env.AWS_ACCESS_KEY_ID!, secretAccessKey: stack.env.AWS_SECRET_ACCESS_KEY! };
    const secretsClient = new SecretsManagerClient({ region: stack.region, endpoint: stack.endpoint, credentials: adminKey });
    const { SecretString } = await secretsClient.send(new GetSecretValueCommand({ SecretId: stack.outputs.XmppSecretArn }));
    secretsClient.destroy();
    await prosody.register("notifier", (JSON.parse(SecretString!) as { password: string }).password);
    // A client of alice's, listening as a person's phone would: every stanza the notifier sends her.
    spy = await connectTestXmpp({ service: prosody.service, jid: `alice@${prosody.domain}`, password: XMPP_PASSWORD, resource: "spy" });
    admin = new S3Client({ region: stack.region, endpoint: stack.endpoint, forcePathStyle: true, credentials: adminKey });
    work = await mkdtemp(join(tmpdir(), "cloudbridge-encrypted-stack-"));
  });

  after(async () => {
    admin?.destroy();
    await spy?.stop();
    await stack?.stop();
    await prosody?.destroy();
    if (work) await rm(work, { recursive: true, force: true });
  });

  async function envOf(agent: string): Promise<Record<string, string>> {
    const key = await stack.agentCredentials(agent);
    return agentEnv({
      AWS_ENDPOINT_URL: stack.endpoint,
      AWS_REGION: stack.region,
      AWS_ACCESS_KEY_ID: key.accessKeyId,
      AWS_SECRET_ACCESS_KEY: key.secretAccessKey,
      CLOUDBRIDGE_IDENTITY: join(work, `${agent}.identity`),
    });
  }

  async function put(root: string, path: string, content: Buffer | string): Promise<void> {
    const bytes = Buffer.from(content);
    await mkdir(join(root, path, ".."), { recursive: true });
    await writeFile(join(root, path), bytes);
    for (const part of path.split("/")) secrets.set(`name ${part}`, Buffer.from(part));
    secrets.set(`sha256 of ${path}`, Buffer.from(createHash("sha256").update(bytes).digest("hex")));
    secrets.set(`git blob id of ${path}`, Buffer.from(createHash("sha1").update(`blob ${bytes.length}\0`).update(bytes).digest("hex")));
    if (bytes.length <= 4096) secrets.set(`content of ${path}`, bytes);
    else for (const at of [0, bytes.length - 64]) secrets.set(`bytes ${at} of ${path}`, bytes.subarray(at, at + 64));
  }

  const leaks = (haystack: Buffer) => [...secrets].filter(([, needle]) => haystack.includes(needle)).map(([what]) => what);

  /** Every object of the stack's access-log bucket, delivered so far, as one text. */
  async function accessLogs(): Promise<{ objects: number; text: string }> {
    const buckets = (await admin.send(new ListBucketsCommand({}))).Buckets?.map((b) => b.Name!) ?? [];
    const logs = buckets.find((name) => /accesslogs/i.test(name));
    assert.ok(logs, `the stack has an access-log bucket (${buckets.join(", ")})`);
    let objects = 0;
    const texts: string[] = [];
    let token: string | undefined;
    do {
      const page = await admin.send(new ListObjectsV2Command({ Bucket: logs, ContinuationToken: token }));
      for (const object of page.Contents ?? []) {
        objects++;
        texts.push(await (await admin.send(new GetObjectCommand({ Bucket: logs, Key: object.Key! }))).Body!.transformToString());
      }
      token = page.NextContinuationToken;
    } while (token);
    return { objects, text: texts.join("") };
  }

  it("syncs an encrypted repository between two agents; then no access-log record, XMPP stanza or queued notification holds a name or content", async () => {
    const [alice, bob] = [await envOf("alice"), await envOf("bob")];
    const bucket = stack.outputs.BucketName!;
    const A = join(work, "a");
    const B = join(work, "b");
    await put(A, "tax-return-2025.txt", "income 183,442.17 SECRET-ALPHA\n");
    await put(A, "medical/diagnosis-letter.md", "# Diagnosis\nSECRET-BRAVO\n");
    await put(A, "videos/wedding-clip.mkv", randomBytes(3 * 1024 * 1024));
    await cliOk(["init", A, "--remote", `s3://${bucket}/vault`, "--encrypt"], alice);
    await cliOk(["key", "add", (await cliOk(["key", "show"], bob)).stdout.trim(), A, "--label", "bob"], alice);
    await cliOk(["clone", `s3://${bucket}/vault`, B], bob);
    await put(B, "from-bob/garden-plans.txt", "SECRET-CHARLIE: tomatoes\n");
    await cliOk(["sync", B], bob);
    await rename(join(A, "tax-return-2025.txt"), join(A, "archive-filed.txt"));
    secrets.set("name archive-filed.txt", Buffer.from("archive-filed.txt"));
    await cliOk(["sync", A], alice);
    await cliOk(["sync", B], bob);
    await cliOk(["get", "."], bob, { cwd: B });
    assert.equal(await readFile(join(B, "archive-filed.txt"), "utf8"), "income 183,442.17 SECRET-ALPHA\n");
    await cliOk(["sync", A], alice);
    assert.equal(await readFile(join(A, "from-bob/garden-plans.txt"), "utf8"), "SECRET-CHARLIE: tomatoes\n");

    // The XMPP stanzas alice's client received for all of this.
    const vaultStanzas = () => spy.messages.map((m) => m.toString()).filter((s) => s.includes("vault"));
    const started = Date.now();
    while (vaultStanzas().length < 3 && Date.now() - started < 20_000) await sleep(100);
    const stanzas = spy.messages.map((m) => m.toString());
    assert.ok(vaultStanzas().length >= 3, `${vaultStanzas().length} XMPP stanzas about the repository captured`);
    assert.deepEqual(leaks(Buffer.from(stanzas.join("\n"))), []);

    // The messages in alice's queue (SNS → SQS), as her daemon would receive them.
    const sqs = new SQSClient({
      region: stack.region,
      endpoint: stack.endpoint,
      credentials: { accessKeyId: stack.env.AWS_ACCESS_KEY_ID!, secretAccessKey: stack.env.AWS_SECRET_ACCESS_KEY! },
    });
    const queued: string[] = [];
    try {
      for (let empty = 0; empty < 2;) {
        const { Messages } = await sqs.send(
          new ReceiveMessageCommand({ QueueUrl: stack.agentOutputs("alice").queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }),
        );
        if (!Messages?.length) empty++;
        else queued.push(...Messages.map((m) => m.Body ?? ""));
      }
    } finally {
      sqs.destroy();
    }
    assert.ok(queued.length > 3, `${queued.length} queued notifications captured`);
    assert.deepEqual(leaks(Buffer.from(queued.join("\n"))), []);

    // The access logs: every request the agents made, as S3 logs them (delivered every second here).
    await sleep(1500);
    const logs = await accessLogs();
    assert.ok(logs.objects > 0, "access logs were delivered");
    for (const [what, record] of [
      ["the encrypted content's upload", /REST\.PUT\.OBJECT annex\/vault\/CBSIV--/],
      ["a sealed pack's download", /REST\.GET\.OBJECT repos\/vault\.git\/objects\/pack\/pack-[0-9a-f]{64}\.pack/],
      ["bob's requests, by his user", /arn:aws:iam::\d+:user\/\S*Agentbob/],
    ] as const)
      assert.ok(record.test(logs.text), `the access logs hold ${what}`);
    assert.deepEqual(leaks(Buffer.from(logs.text)), []);

    // A clear repository beside it: the same scans find its content hash in the logs and the stanzas (they can see).
    const C = join(work, "clear");
    const clearFilm = randomBytes(3 * 1024 * 1024);
    await mkdir(C);
    await writeFile(join(C, "clear-film.mkv"), clearFilm);
    await cliOk(["init", C, "--remote", `s3://${bucket}/clearnotes`], alice);
    const before = new Map(secrets);
    secrets.clear();
    secrets.set("sha256 of clear-film.mkv", Buffer.from(createHash("sha256").update(clearFilm).digest("hex")));
    await sleep(1500);
    assert.deepEqual(leaks(Buffer.from((await accessLogs()).text)), ["sha256 of clear-film.mkv"]);
    await spy.waitFor((message) => message.toString().includes("clearnotes"), 20_000);
    const clearStanzas = () => Buffer.from(spy.messages.map((m) => m.toString()).join("\n"));
    const since = Date.now();
    while (leaks(clearStanzas()).length === 0 && Date.now() - since < 20_000) await sleep(100);
    assert.deepEqual(leaks(clearStanzas()), ["sha256 of clear-film.mkv"]);
    for (const [what, needle] of before) secrets.set(what, needle);
  });
});
