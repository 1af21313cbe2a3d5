/**
 * Where a large file's time A→B goes, seen from outside two real daemons (default settings, SQS): each
 * phase is the moment a step's result shows (polled every 5 ms), from the file closed on A:
 * in A's store (ingest), A's commit, the object complete in the bucket (upload), the pointer written on
 * B (notification, fetch, checkout), B's download started (its temporary file), in B's store (download,
 * verification), complete in B's work tree (placing). BENCH_LARGE_MIB (default 100), BENCH_LARGE_ROUNDS
 * (default 3); medians per phase. BENCH_TRACE=1: the daemons log at debug level, and each round's log
 * lines of both machines are printed (stderr), in milliseconds from the file closed on A (negative: while
 * it was being written). BENCH_CPU_PROF=<dir>: both daemons and the local cloud write a CPU profile there when
 * they stop (`--cpu-prof`; open it in Chrome's DevTools).
 *
 * Run: `flock /tmp/cloudbridge-bench.lock node --disable-warning=ExperimentalWarning bench/large-timeline.ts`
 */
import { execFileSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readdir, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createS3Client, S3ObjectStore } from "../objectstore/index.ts";
import { GIT_ENV } from "../test/helpers/git.ts";
import { cloudbridge, daemon, percentile, startCloudProcess, stopChild } from "./agent-common.ts";

const MIB = Number(process.env.BENCH_LARGE_MIB ?? 100);
const ROUNDS = Number(process.env.BENCH_LARGE_ROUNDS ?? 3);
const TRACE = process.env.BENCH_TRACE === "1";
const CPU_PROF = process.env.BENCH_CPU_PROF;
const profiled: Record<string, string> = CPU_PROF ? { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${CPU_PROF}` } : {};

const root = await mkdtemp(join(tmpdir(), "cb-bench-timeline-"));
const cloud = await startCloudProcess([], profiled);
const env = { ...cloud.env, ...GIT_ENV };
const children = [];
const phases: Array<Record<string, number>> = [];
try {
  const [a, b] = [join(root, "a"), join(root, "b")];
  await mkdir(a);
  await writeFile(join(a, "hello.txt"), "hello\n");
  const flags = ["--topic-arn", cloud.topicArn, "--listen", "sqs"];
  await cloudbridge(["init", a, "--remote", "s3://cloudbridge/timeline", ...flags], env, { quiet: true });
  await cloudbridge(["clone", "s3://cloudbridge/timeline", b, ...flags], env, { quiet: true });
  const logs: Array<{ who: string; at: number; line: Record<string, unknown> }> = [];
  for (const [who, dir] of [
    ["A", a],
    ["B", b],
  ] as const) {
    const onLog = (text: string) => {
      try {
        const line = JSON.parse(text) as Record<string, unknown>;
        logs.push({ who, at: Date.parse(String(line.time)), line });
      } catch {
        // not a log line
      }
    };
    const daemonEnv = { ...env, ...profiled };
    const d = TRACE ? daemon(dir, { ...daemonEnv, CLOUDBRIDGE_LOG_LEVEL: "debug" }, [], undefined, onLog) : daemon(dir, daemonEnv, []);
    children.push(d.child);
    await d.ready;
  }
  const store = new S3ObjectStore(
    "cloudbridge",
    createS3Client({
      endpoint: cloud.env.AWS_ENDPOINT_URL!,
      region: cloud.env.AWS_REGION ?? "us-east-1",
      credentials: { accessKeyId: cloud.env.AWS_ACCESS_KEY_ID!, secretAccessKey: cloud.env.AWS_SECRET_ACCESS_KEY! },
    }),
  );
  const size = MIB * 1024 * 1024;
  for (let r = 0; r < ROUNDS; r++) {
    const bytes = randomBytes(size);
    const name = `large-${r}.bin`;
    const key = `SHA256E-s${size}--${createHash("sha256").update(bytes).digest("hex")}.bin`;
    const head = () => execFileSync("git", ["rev-parse", "main"], { env: { ...process.env, GIT_DIR: join(a, ".git") } }).toString();
    const headBefore = head();
    const inStore = async (dir: string) => (await findObject(join(dir, ".git", "annex", "objects"), key)) !== undefined;
    const size0 = async (path: string) => (await stat(path).catch(() => undefined))?.size;
    const probes: Array<[string, () => Promise<boolean>]> = [
      ["A store", () => inStore(a)],
      ["A commit", async () => head() !== headBefore],
      ["bucket", async () => (await store.head(`annex/timeline/${key}`)) !== undefined],
      ["B pointer", async () => (await size0(join(b, name))) !== undefined],
      ["B tmp", async () => (await size0(join(b, ".git", "annex", "tmp", key))) !== undefined || (await inStore(b))],
      ["B store", () => inStore(b)],
      ["B file", async () => (await size0(join(b, name))) === size],
    ];
    const seen: Record<string, number> = {};
    logs.length = 0;
    await writeFile(join(a, name), bytes);
    const t0 = performance.now();
    const closedAt = Date.now();
    let next = 0;
    while (next < probes.length) {
      if (performance.now() - t0 > 300_000) throw new Error(`stuck before ${probes[next]![0]}`);
      // Later probes may already hold (a phase shorter than the poll): take every one that holds now.
      for (let i = next; i < probes.length; i++) {
        if (seen[probes[i]![0]] === undefined && (await probes[i]![1]())) seen[probes[i]![0]] = performance.now() - t0;
      }
      while (next < probes.length && seen[probes[next]![0]] !== undefined) next++;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    phases.push(seen);
    process.stderr.write(
      `round ${r}: ${Object.entries(seen)
        .map(([k, v]) => `${k} ${Math.round(v)}`)
        .join(", ")} ms\n`,
    );
    if (TRACE) {
      // The daemons' last lines of the round (the record after the file is on B) are still on their way.
      await new Promise((resolve) => setTimeout(resolve, 1000));
      for (const { who, at, line } of logs) {
        const { time: _t, level: _l, event, ...rest } = line;
        process.stderr.write(`  ${who} +${at - closedAt} ${String(event)} ${JSON.stringify(rest)}\n`);
      }
    }
  }
} finally {
  for (const child of children) await stopChild(child);
  await cloud.stop();
  await rm(root, { recursive: true, force: true });
}
const names = Object.keys(phases[0] ?? {});
console.log(`${MIB} MiB A→B, median of ${ROUNDS} rounds, ms from the file closed on A:`);
console.log(
  names
    .map(
      (n) =>
        `${n} ${Math.round(
          percentile(
            phases.map((p) => p[n]!),
            50,
          ),
        )}`,
    )
    .join(" | "),
);

async function findObject(objects: string, key: string): Promise<string | undefined> {
  for (const x of await readdir(objects).catch(() => [])) {
    for (const y of await readdir(join(objects, x)).catch(() => [])) {
      const path = join(objects, x, y, key, key);
      if (await stat(path).catch(() => undefined)) return path;
    }
  }
  return undefined;
}
