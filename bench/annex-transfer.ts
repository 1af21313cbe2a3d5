/**
 * Annexed-content transfer throughput against the raw AWS SDK, same endpoint, same run (docs/annex.md).
 *
 *   1 × large file (BENCH_ANNEX_LARGE_MIB, default 256; 0 leaves the large file out), BENCH_ANNEX_ROUNDS
 *   rounds (default 3) taking turns with the SDK, medians; and BENCH_ANNEX_SMALL_COUNT (default 1000) ×
 *   BENCH_ANNEX_SMALL_KIB (default 100; 1024 is the default annex.largefiles threshold).
 *   cloudbridge: Annex.upload / Annex.get (hash verified, location log committed and pushed to the bucket
 *   once per batch); "end to end" adds putting the content in place of the file's pointer in the work tree,
 *   as a machine receiving the file does. Raw SDK: @aws-sdk/lib-storage Upload from a file stream /
 *   GetObject streamed to a file. Both move the same files with the same number of files in flight;
 *   requests counted per file.
 *
 * Run: `npm run bench:annex` (BENCH_ANNEX_LARGE_MIB=1024 for the full figures; under
 * `flock /tmp/cloudbridge-bench.lock`).
 */
import { execFileSync, spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import {
  createReadStream,
  createWriteStream,
  mkdtempSync,
  mkdirSync,
  rmSync,
  writeFileSync,
  openSync,
  writeSync,
  closeSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pipeline } from "node:stream/promises";
import type { Readable } from "node:stream";
import { GetObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { LOCAL_CREDENTIALS } from "../local/cloud.ts";
import { S3ObjectStore } from "../objectstore/s3-object-store.ts";
import { BucketLayout } from "../protocol/layout.ts";
import { Annex, ensureCloudUuid, formatPointer, placeContent } from "../annex/index.ts";
import { publishAnnexBranch } from "../agent/sync/cloud-branch-sync.ts";

const LARGE = Number(process.env.BENCH_ANNEX_LARGE_MIB ?? 256) * 1024 * 1024;
const ROUNDS = Number(process.env.BENCH_ANNEX_ROUNDS ?? 3);
const SMALL = Number(process.env.BENCH_ANNEX_SMALL_KIB ?? 100) * 1024;
const SMALL_COUNT = Number(process.env.BENCH_ANNEX_SMALL_COUNT ?? 1000);
const IN_FLIGHT = 8;

// The cloud runs in its own process (as it would be on another machine), so it does not share this thread.
const server = spawn(resolve("bin/cloudbridge"), ["local", "--port", "0", "--json"], { stdio: ["ignore", "pipe", "inherit"] });
const cloud = await new Promise<{ endpoint: string; bucket: string; region: string }>((done, fail) => {
  server.stdout.once("data", (line: Buffer) => {
    const { endpoint, bucket, env } = JSON.parse(line.toString()) as { endpoint: string; bucket: string; env: Record<string, string> };
    done({ endpoint, bucket, region: env.AWS_REGION! });
  });
  server.once("exit", (code) => fail(new Error(`cloudbridge local exited (${code})`)));
});
let requests = 0;
function client(): S3Client {
  const s3 = new S3Client({ region: cloud.region, endpoint: cloud.endpoint, forcePathStyle: true, credentials: LOCAL_CREDENTIALS });
  s3.middlewareStack.add(
    (next) => async (args) => {
      requests++;
      return next(args);
    },
    { step: "finalizeRequest", name: "countRequests" },
  );
  return s3;
}
const raw = client();
const store = new S3ObjectStore(cloud.bucket, client());
const root = mkdtempSync(join(tmpdir(), "bench-annex-"));

async function agent(name: string): Promise<Annex> {
  const dir = join(root, name);
  mkdirSync(dir);
  execFileSync("git", ["init", "-q", "-b", "main", dir]);
  const uuid = crypto.randomUUID();
  const annexCloud = { store, layout: new BucketLayout(), repo: "bench" };
  const cloudUuid = await ensureCloudUuid(annexCloud);
  const gitDir = join(dir, ".git");
  const ctx = { store, layout: annexCloud.layout, repo: "bench", gitDir, agent: uuid };
  const publish = async () => {
    const started = performance.now();
    await publishAnnexBranch(ctx);
    publishing += (performance.now() - started) / 1000;
  };
  return new Annex({ gitDir, uuid, cloud: annexCloud, cloudUuid, publish });
}
/** Seconds spent pushing the git-annex branch (part of cloudbridge's time; the SDK has no such step). */
let publishing = 0;

interface Timed {
  seconds: number;
  requests: number;
  /** Of `seconds`, pushing the git-annex branch. */
  publishing: number;
}
async function timed<T>(work: () => Promise<T>): Promise<Timed> {
  const before = requests;
  const published = publishing;
  const started = performance.now();
  await work();
  return { seconds: (performance.now() - started) / 1000, requests: requests - before, publishing: publishing - published };
}

async function inFlight<T>(items: T[], work: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (next < items.length) await work(items[next++]!);
    }),
  );
}

const rawUpload = (key: string, file: string) =>
  new Upload({ client: raw, params: { Bucket: cloud.bucket, Key: key, Body: createReadStream(file) } }).done();
async function rawDownload(key: string, file: string) {
  const response = await raw.send(new GetObjectCommand({ Bucket: cloud.bucket, Key: key }));
  await pipeline(response.Body as Readable, createWriteStream(file));
}

const a = await agent("a");
const b = await agent("b");
const rows: string[] = [];
function report(
  label: string,
  bytes: number,
  files: number,
  ours: { seconds: number; requests: number },
  sdk: { seconds: number; requests: number },
) {
  const mbps = (t: { seconds: number }) => bytes / 1e6 / t.seconds;
  rows.push(
    `| ${label} | ${mbps(ours).toFixed(0)} MB/s | ${mbps(sdk).toFixed(0)} MB/s | ${(mbps(ours) / mbps(sdk)).toFixed(2)} | ${(ours.requests / files).toFixed(1)} | ${(sdk.requests / files).toFixed(1)} |`,
  );
  console.log(rows.at(-1));
}
console.log(
  `cloudbridge local at ${cloud.endpoint}; Node ${process.version}; ${IN_FLIGHT} files in flight; large file: median of ${ROUNDS} rounds`,
);
console.log("| case | cloudbridge | raw SDK | ratio | requests/file (cloudbridge) | requests/file (SDK) |");

// One large file.
const largeFile = join(root, "large.bin");
const fd = openSync(largeFile, "w");
for (let written = 0; written < LARGE; written += 16 * 1024 * 1024) writeSync(fd, randomBytes(Math.min(16 * 1024 * 1024, LARGE - written)));
closeSync(fd);
const started = performance.now();
const largeKey = await a.local.ingest(largeFile);
console.log(
  `(add: hash ${LARGE / 1024 / 1024} MiB into the local store: ${(LARGE / 1e6 / ((performance.now() - started) / 1000)).toFixed(0)} MB/s)`,
);
// Rounds taking turns, medians: the machine's load falls on both alike.
const median = <T>(values: T[], by: (v: T) => number): T => [...values].sort((x, y) => by(x) - by(y))[Math.floor(values.length / 2)]!;
const runs = { sdkUp: [] as Timed[], oursUp: [] as Timed[], sdkDown: [] as Timed[], oursDown: [] as Timed[], oursPlaced: [] as Timed[] };
const bWork = join(root, "b");
for (let round = 0; LARGE > 0 && round < ROUNDS; round++) {
  runs.sdkUp.push(await timed(() => rawUpload("bench-raw/large", largeFile)));
  runs.oursUp.push(await timed(() => a.upload([{ key: largeKey, fileName: "large.bin" }])));
  runs.sdkDown.push(await timed(() => rawDownload("bench-raw/large", join(root, "large.raw"))));
  rmSync(join(root, "large.raw"));
  runs.oursDown.push(await timed(() => b.get([{ key: largeKey }])));
  await b.local.remove(largeKey);
  // End to end: the pointer file a checkout wrote is replaced by the verified content.
  const pointerFile = join(bWork, "large.bin");
  writeFileSync(pointerFile, formatPointer(largeKey));
  runs.oursPlaced.push(
    await timed(async () => {
      // As the daemon downloads: the bytes also go to a spare copy as they arrive, which becomes the work-tree file.
      await b.get([{ key: largeKey }], { spare: true });
      if (!(await placeContent(b.local, largeKey, pointerFile, 0o644))) throw new Error("the content was not placed");
    }),
  );
  await b.local.remove(largeKey);
  rmSync(pointerFile);
  await store.delete("bench-raw/large");
  await store.delete(a.cloud.layout.annexObject("bench", largeKey));
}
const by = (t: Timed) => t.seconds;
if (LARGE > 0) report(`upload 1 × ${LARGE / 1024 / 1024} MiB`, LARGE, 1, median(runs.oursUp, by), median(runs.sdkUp, by));
if (LARGE > 0) report(`download 1 × ${LARGE / 1024 / 1024} MiB`, LARGE, 1, median(runs.oursDown, by), median(runs.sdkDown, by));
if (LARGE > 0)
  report(
    `download 1 × ${LARGE / 1024 / 1024} MiB, end to end (in place in the work tree)`,
    LARGE,
    1,
    median(runs.oursPlaced, by),
    median(runs.sdkDown, by),
  );
// The small files below need the large one's object no more; the store's copy stays for nothing else.
// Many small files.
const smallDir = join(root, "small");
mkdirSync(smallDir);
const smallFiles = Array.from({ length: SMALL_COUNT }, (_, i) => join(smallDir, `f${i}.dat`));
for (const file of smallFiles) writeFileSync(file, randomBytes(SMALL));
const smallKeys: string[] = [];
for (const file of smallFiles) smallKeys.push(await a.local.ingest(file));
const sdkSmallUp = await timed(() =>
  inFlight(smallFiles, (file) => rawUpload(`bench-raw/${createHash("md5").update(file).digest("hex")}`, file)),
);
const oursSmallUp = await timed(() =>
  a.upload(
    smallKeys.map((key) => ({ key })),
    { parallelFiles: IN_FLIGHT },
  ),
);
report(`upload ${SMALL_COUNT} × ${SMALL / 1024} KiB`, SMALL * SMALL_COUNT, SMALL_COUNT, oursSmallUp, sdkSmallUp);
console.log(`(upload: ${oursSmallUp.seconds.toFixed(2)} s, of which ${oursSmallUp.publishing.toFixed(2)} s pushing the git-annex branch)`);
mkdirSync(join(root, "small.raw"));
const sdkSmallDown = await timed(() =>
  inFlight(smallFiles, (file) =>
    rawDownload(`bench-raw/${createHash("md5").update(file).digest("hex")}`, join(root, "small.raw", file.split("/").pop()!)),
  ),
);
const oursSmallDown = await timed(() =>
  b.get(
    smallKeys.map((key) => ({ key })),
    { parallelFiles: IN_FLIGHT },
  ),
);
report(`download ${SMALL_COUNT} × ${SMALL / 1024} KiB`, SMALL * SMALL_COUNT, SMALL_COUNT, oursSmallDown, sdkSmallDown);
// B has not fetched A's records: its push meets A's branch and union-merges it, as `cloudbridge get` does.
console.log(
  `(download: ${oursSmallDown.seconds.toFixed(2)} s, of which ${oursSmallDown.publishing.toFixed(2)} s pushing the git-annex branch)`,
);

console.log(`\n${rows.join("\n")}`);
raw.destroy();
store.destroy();
server.kill("SIGTERM");
rmSync(root, { recursive: true, force: true });
