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
 * BENCH_BASELINE=<another checkout of cloudbridge, with its node_modules>: that checkout's local cloud and
 * daemons run beside this one's, and the two take turns round by round in the same run (the machine's
 * load is shared); each phase is printed for both, with this code's median over the baseline's.
 *
 * Run: `flock /tmp/cloudbridge-bench.lock node --disable-warning=ExperimentalWarning bench/large-timeline.ts`
 */
import { execFileSync, type ChildProcess } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readdir, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { S3ObjectStore } from "../objectstore/index.ts";
import { GIT_ENV } from "../test/helpers/git.ts";
import { benchCloudStore, cloudbridge, daemon, MAIN, percentile, startCloudProcess, stopChild, type BenchCloud } from "./agent-common.ts";

const MIB = Number(process.env.BENCH_LARGE_MIB ?? 100);
const ROUNDS = Number(process.env.BENCH_LARGE_ROUNDS ?? 3);
const TRACE = process.env.BENCH_TRACE === "1";
const CPU_PROF = process.env.BENCH_CPU_PROF;
const BASELINE = process.env.BENCH_BASELINE;
const profiled: Record<string, string> = CPU_PROF ? { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${CPU_PROF}` } : {};

/** One checkout's local cloud and pair of daemons. */
interface Side {
  label: string;
  a: string;
  b: string;
  cloud: BenchCloud;
  store: S3ObjectStore;
  children: ChildProcess[];
  logs: Array<{ who: string; at: number; line: Record<string, unknown> }>;
  phases: Array<Record<string, number>>;
}

const root = await mkdtemp(join(tmpdir(), "cb-bench-timeline-"));
const sides: Side[] = [];
try {
  sides.push(await startSide("this checkout", MAIN, join(root, "this")));
  if (BASELINE) sides.push(await startSide(`baseline ${BASELINE}`, join(BASELINE, "agent", "cli", "main.ts"), join(root, "baseline")));
  for (let r = 0; r < ROUNDS; r++) {
    // The baseline goes first in every other round: neither side always follows the other.
    for (const side of r % 2 === 0 ? sides : [...sides].reverse()) await round(side, r);
  }
} finally {
  for (const side of sides) {
    for (const child of side.children) await stopChild(child);
    await side.cloud.stop();
  }
  await rm(root, { recursive: true, force: true });
}

const names = Object.keys(sides[0]?.phases[0] ?? {});
const median = (side: Side, name: string) =>
  percentile(
    side.phases.map((p) => p[name]!),
    50,
  );
console.log(`${MIB} MiB A→B, median of ${ROUNDS} rounds, ms from the file closed on A:`);
for (const side of sides) console.log(`${side.label}: ${names.map((n) => `${n} ${Math.round(median(side, n))}`).join(" | ")}`);
if (sides.length > 1) {
  console.log(
    `this checkout / baseline: ${names.map((n) => `${n} ${(median(sides[0]!, n) / median(sides[1]!, n)).toFixed(2)}`).join(" | ")}`,
  );
}

async function startSide(label: string, main: string, dir: string): Promise<Side> {
  const cloud = await startCloudProcess([], profiled, main);
  const env = { ...cloud.env, ...GIT_ENV };
  const side: Side = {
    label,
    a: join(dir, "a"),
    b: join(dir, "b"),
    cloud,
    store: benchCloudStore(cloud),
    children: [],
    logs: [],
    phases: [],
  };
  await mkdir(side.a, { recursive: true });
  await writeFile(join(side.a, "hello.txt"), "hello\n");
  const flags = ["--topic-arn", cloud.topicArn, "--listen", "sqs"];
  await cloudbridge(["init", side.a, "--remote", "s3://cloudbridge/timeline", ...flags], env, { quiet: true, main });
  await cloudbridge(["clone", "s3://cloudbridge/timeline", side.b, ...flags], env, { quiet: true, main });
  for (const [who, folder] of [
    ["A", side.a],
    ["B", side.b],
  ] as const) {
    const onLog = (text: string) => {
      try {
        const line = JSON.parse(text) as Record<string, unknown>;
        side.logs.push({ who, at: Date.parse(String(line.time)), line });
      } catch {
        // not a log line
      }
    };
    const launcher = [process.execPath, "--disable-warning=ExperimentalWarning", main];
    const daemonEnv = { ...env, ...profiled };
    const d = TRACE
      ? daemon(folder, { ...daemonEnv, CLOUDBRIDGE_LOG_LEVEL: "debug" }, [], launcher, onLog)
      : daemon(folder, daemonEnv, [], launcher);
    side.children.push(d.child);
    await d.ready;
  }
  return side;
}

async function round(side: Side, r: number): Promise<void> {
  const { a, b, store } = side;
  const size = MIB * 1024 * 1024;
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
  side.logs.length = 0;
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
  side.phases.push(seen);
  process.stderr.write(
    `${sides.length > 1 ? `${side.label}, ` : ""}round ${r}: ${Object.entries(seen)
      .map(([k, v]) => `${k} ${Math.round(v)}`)
      .join(", ")} ms\n`,
  );
  // The daemons' last lines of the round (the record after the file is on B) are still on their way; the
  // other side's round waits for this one's to settle too.
  await new Promise((resolve) => setTimeout(resolve, 1000));
  if (TRACE) {
    for (const { who, at, line } of side.logs) {
      const { time: _t, level: _l, event, ...rest } = line;
      process.stderr.write(`  ${who} +${at - closedAt} ${String(event)} ${JSON.stringify(rest)}\n`);
    }
  }
}

async function findObject(objects: string, key: string): Promise<string | undefined> {
  for (const x of await readdir(objects).catch(() => [])) {
    for (const y of await readdir(join(objects, x)).catch(() => [])) {
      const path = join(objects, x, y, key, key);
      if (await stat(path).catch(() => undefined)) return path;
    }
  }
  return undefined;
}
