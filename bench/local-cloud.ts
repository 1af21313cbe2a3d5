/**
 * The ceiling later benchmarks quote ratios against: what the AWS SDK v3 gets from `cloudbridge local`
 * on this machine. Prints requests/s for 4 KiB PUT and GET (sequential and 16 in flight) and MB/s for a
 * 256 MiB upload (lib-storage, 8 MiB parts) and download. Run: `npm run bench:local`.
 */
import { randomBytes } from "node:crypto";
import { GetObjectCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { LOCAL_CREDENTIALS, startLocalCloud } from "../local/cloud.ts";

const SMALL = 4 * 1024;
const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 2000);
const LARGE = Number(process.env.BENCH_LARGE_MIB ?? 256) * 1024 * 1024;

const cloud = await startLocalCloud({ port: 0 });
const s3 = new S3Client({ region: cloud.region, endpoint: cloud.endpoint, forcePathStyle: true, credentials: LOCAL_CREDENTIALS });
const Bucket = cloud.bucket;

async function rate(label: string, count: number, inFlight: number, op: (i: number) => Promise<unknown>): Promise<number> {
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (next < count) await op(next++);
    }),
  );
  const perSecond = count / ((performance.now() - started) / 1000);
  console.log(`${label.padEnd(34)} ${perSecond.toFixed(0).padStart(8)} req/s`);
  return perSecond;
}

const body = randomBytes(SMALL);
console.log(`cloudbridge local at ${cloud.endpoint}; Node ${process.version}; ${REQUESTS} requests per line`);
await rate("PUT 4 KiB, 1 in flight", REQUESTS, 1, (i) => s3.send(new PutObjectCommand({ Bucket, Key: `bench/small/${i}`, Body: body })));
await rate("PUT 4 KiB, 16 in flight", REQUESTS, 16, (i) => s3.send(new PutObjectCommand({ Bucket, Key: `bench/small/${i}`, Body: body })));
const get = async (i: number) => {
  const response = await s3.send(new GetObjectCommand({ Bucket, Key: `bench/small/${i}` }));
  await response.Body!.transformToByteArray();
};
await rate("GET 4 KiB, 1 in flight", REQUESTS, 1, get);
await rate("GET 4 KiB, 16 in flight", REQUESTS, 16, get);

const large = randomBytes(LARGE);
let started = performance.now();
await new Upload({ client: s3, params: { Bucket, Key: "bench/large", Body: large }, partSize: 8 * 1024 * 1024, queueSize: 4 }).done();
const upload = LARGE / 1e6 / ((performance.now() - started) / 1000);
started = performance.now();
const response = await s3.send(new GetObjectCommand({ Bucket, Key: "bench/large" }));
let received = 0;
for await (const chunk of response.Body as AsyncIterable<Buffer>) received += chunk.length;
const download = LARGE / 1e6 / ((performance.now() - started) / 1000);
if (received !== LARGE) throw new Error(`downloaded ${received} bytes of ${LARGE}`);
console.log(`${`upload ${LARGE / 1024 / 1024} MiB (8 MiB parts, 4 in flight)`.padEnd(34)} ${upload.toFixed(0).padStart(8)} MB/s`);
console.log(`${`download ${LARGE / 1024 / 1024} MiB (one GET)`.padEnd(34)} ${download.toFixed(0).padStart(8)} MB/s`);
console.log(`peak RSS of this process (client + emulator): ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB`);

s3.destroy();
await cloud.stop();
