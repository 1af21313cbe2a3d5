/**
 * What rehearsing the stack costs: start time of `cloudbridge local` alone and with `--stack` (the cloud
 * assembly already synthesized), and requests/s for 4 KiB PUT and GET with an agent's key against
 * `--stack` (signature checked, IAM evaluated) next to plain `cloudbridge local` (neither).
 * Run: `node --disable-warning=ExperimentalWarning bench/local-stack.ts` (BENCH_REQUESTS scales it).
 */
import { randomBytes } from "node:crypto";
import { GetObjectCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { GetSecretValueCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { LOCAL_CREDENTIALS, startLocalCloud } from "../local/cloud.ts";
import { startStackCloud } from "../local/stack/stack-cloud.ts";
import { synthCloudAssembly, TWO_AGENTS } from "../test/helpers/stack-cloud.ts";

const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 1000);
const body = randomBytes(4 * 1024);

async function rate(count: number, inFlight: number, op: (i: number) => Promise<unknown>): Promise<number> {
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (next < count) await op(next++);
    }),
  );
  return count / ((performance.now() - started) / 1000);
}

async function measure(label: string, s3: S3Client, bucket: string, prefix: string): Promise<void> {
  const put = (i: number) => s3.send(new PutObjectCommand({ Bucket: bucket, Key: `${prefix}${i}`, Body: body }));
  const get = async (i: number) =>
    (await s3.send(new GetObjectCommand({ Bucket: bucket, Key: `${prefix}${i}` }))).Body!.transformToByteArray();
  const line = [await rate(REQUESTS, 1, put), await rate(REQUESTS, 8, put), await rate(REQUESTS, 1, get), await rate(REQUESTS, 8, get)];
  console.log(`${label.padEnd(40)} ${line.map((r) => r.toFixed(0).padStart(6)).join("  ")}`);
}

const cdkOut = synthCloudAssembly(TWO_AGENTS);
let started = performance.now();
const plain = await startLocalCloud({ port: 0 });
const plainStart = performance.now() - started;
started = performance.now();
const stack = await startStackCloud({ cdkOut });
const stackStart = performance.now() - started;
console.log(
  `start: cloudbridge local ${plainStart.toFixed(0)} ms; --stack ${stackStart.toFixed(0)} ms (${stack.rehearsed.length} resource types, 3 functions started)`,
);

const admin = new SecretsManagerClient({
  region: stack.region,
  endpoint: stack.endpoint,
  credentials: { accessKeyId: stack.env.AWS_ACCESS_KEY_ID!, secretAccessKey: stack.env.AWS_SECRET_ACCESS_KEY! },
});
const alice = JSON.parse(
  (await admin.send(new GetSecretValueCommand({ SecretId: stack.outputs.AgentAliceCredentialsSecretArn }))).SecretString!,
) as { accessKeyId: string; secretAccessKey: string };
const plainS3 = new S3Client({ region: plain.region, endpoint: plain.endpoint, forcePathStyle: true, credentials: LOCAL_CREDENTIALS });
const stackS3 = new S3Client({ region: stack.region, endpoint: stack.endpoint, forcePathStyle: true, credentials: alice });
console.log(`${REQUESTS} requests of 4 KiB per figure; req/s:`.padEnd(40), "PUT×1   PUT×8   GET×1   GET×8");
await measure("cloudbridge local", plainS3, plain.bucket, "repos/notes.git/bench/");
await measure("--stack, agent key (SigV4 + IAM)", stackS3, stack.outputs.BucketName!, "repos/notes.git/bench/");
for (const client of [admin, plainS3, stackS3]) client.destroy();
await plain.stop();
await stack.stop();
