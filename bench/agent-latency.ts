/**
 * The agent end to end, side by side with Syncthing 1.19 on the same machine in the same run
 * (bench/syncthing.ts: two instances on 127.0.0.1, watcher delay 1 s; `apt-get install syncthing`):
 *
 * 1. Small-file latency at default settings, from a file closed on machine A to the same file complete on
 *    machine B (SQS notifications), in folders of BENCH_SIZES files (default 1000,10000; BENCH_FILES=100000
 *    adds that size): p50/p95 over BENCH_CHANGES changes (default 20), cloudbridge and Syncthing taking
 *    turns change by change (every other round in reverse, each change BENCH_SETTLE_MS, default 300, after the
 *    last one's daemons finished), each size against its own pair of daemons and of Syncthing instances.
 * 2. One file of BENCH_LARGE_MIB (default 100) A→B, BENCH_LARGE_ROUNDS rounds (default 3), taking turns:
 *    median from closed on A to complete on B.
 * 3. Per listener (BENCH_LISTENERS, e.g. sqs,xmpp,poll; default none): latency over BENCH_CHANGES
 *    changes, then the requests an idle daemon makes, counted by a proxy in front of `cloudbridge local`,
 *    as requests per hour, and the requests one reconcile round costs (a `cloudbridge sync` with nothing
 *    to do); BENCH_IDLE_SECONDS, BENCH_POLL_SECONDS.
 *
 * BENCH_TRACE=1: the daemons log at debug level, and each small change's steps on both machines are printed
 * (stderr), in milliseconds from the write; with BENCH_BASELINE the baseline's too, and a table of each step's
 * median on both, taking the same turns; add GIT_TRACE2_PERF=<file> to see every git process they start.
 * The daemons run as a person runs them, through bin/cloudbridge with the Node flags it sets (its smaller young
 * generation keeps the daemon's memory, and so the cost of each git process it starts, down); BENCH_LAUNCHER=node
 * starts them with plain `node` as this benchmark did before.
 * BENCH_BASELINE=<checkout>: a third pair of daemons, from another checkout of cloudbridge (its own
 * bin/cloudbridge and node_modules, e.g. a worktree of main), takes its turns in the same run on the same kind of
 * folder: the ratio of this code to that one, measured under the same load.
 * BENCH_CPU_PROF=<dir>: each daemon writes a CPU profile there when it stops (`--cpu-prof`; open it in Chrome's
 * DevTools, or summarize it by function).
 *
 * Run: `npm run bench:agent` (heavy: under `flock /tmp/cloudbridge-bench.lock`).
 */
import { createHash, randomBytes } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdir, mkdtemp, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { startProsody } from "../test/helpers/prosody.ts";
import { GIT_ENV } from "../test/helpers/git.ts";
import {
  arrival,
  cloudbridge,
  holds,
  interleavedRounds,
  percentile,
  populate,
  startCloudProcess,
  startCountingProxy,
  startDaemons,
} from "./agent-common.ts";
import { startSyncthingPair, syncthingMissing } from "./syncthing.ts";

const CHANGES = Number(process.env.BENCH_CHANGES ?? 20);
const SIZES = [
  ...new Set([...(process.env.BENCH_SIZES ?? "1000,10000").split(","), ...(process.env.BENCH_FILES ? [process.env.BENCH_FILES] : [])]),
]
  .map(Number)
  .filter((n) => n > 0)
  .sort((a, b) => a - b);
const LARGE_MIB = Number(process.env.BENCH_LARGE_MIB ?? 100);
const LARGE_ROUNDS = Number(process.env.BENCH_LARGE_ROUNDS ?? 3);
const LISTENERS = (process.env.BENCH_LISTENERS ?? "")
  .split(",")
  .filter((l): l is "sqs" | "xmpp" | "poll" => ["sqs", "xmpp", "poll"].includes(l));
const IDLE_SECONDS = Number(process.env.BENCH_IDLE_SECONDS ?? 60);
const POLL_SECONDS = Number(process.env.BENCH_POLL_SECONDS ?? 2);
/** Before each small change, the last one's daemons are left this long to finish their rounds (BENCH_SETTLE_MS). */
const SETTLE_MS = Number(process.env.BENCH_SETTLE_MS ?? 300);
/** BENCH_TRACE=1: the daemons log at debug level, and each small change's steps on A and B are printed (stderr). */
const TRACE = process.env.BENCH_TRACE === "1";
/** How the small-file daemons are started: bin/cloudbridge (default), or plain node (BENCH_LAUNCHER=node). */
const LAUNCHER = process.env.BENCH_LAUNCHER === "node" ? undefined : [fileURLToPath(new URL("../bin/cloudbridge", import.meta.url))];
/** BENCH_BASELINE=<checkout>: daemons of that code take turns with this code's (small files only). */
const BASELINE = process.env.BENCH_BASELINE;
/** BENCH_CPU_PROF=<dir>: the daemons' CPU profiles, written there when they stop. */
const CPU_PROF = process.env.BENCH_CPU_PROF;

interface Row {
  listener: string;
  p50: number;
  p95: number;
  max: number;
  idlePerHour: Record<string, number>;
  reconcile: number;
}

async function measure(listener: "sqs" | "xmpp" | "poll"): Promise<Row> {
  const root = await mkdtemp(join(tmpdir(), `cb-bench-${listener}-`));
  const prosody = listener === "xmpp" ? await startProsody() : undefined;
  const jids = prosody
    ? {
        notifier: await prosody.register("notifier", "n-pw"),
        a: await prosody.register("alice", "a-pw"),
        b: await prosody.register("bob", "b-pw"),
      }
    : undefined;
  const cloud = await startCloudProcess(
    prosody && jids ? ["--xmpp-service", prosody.service, "--xmpp-jid", jids.notifier, "--xmpp-to", `${jids.a},${jids.b}`] : [],
    { CLOUDBRIDGE_XMPP_PASSWORD: "n-pw" },
  );
  const proxy = await startCountingProxy(cloud.endpoint);
  const env = (who: "a" | "b") => ({
    ...cloud.env,
    ...GIT_ENV,
    AWS_ENDPOINT_URL: proxy.endpoint,
    ...(prosody ? { CLOUDBRIDGE_XMPP_PASSWORD: `${who}-pw` } : {}),
  });
  const flags = (who: "a" | "b") =>
    listener === "sqs"
      ? ["--topic-arn", cloud.topicArn, "--listen", "sqs"]
      : listener === "xmpp"
        ? ["--listen", "xmpp", "--xmpp-service", prosody!.service, "--xmpp-jid", jids![who]]
        : ["--listen", "poll", "--poll-interval", String(POLL_SECONDS)];
  const url = "s3://cloudbridge/bench";
  const A = join(root, "a");
  const B = join(root, "b");
  let daemons: Awaited<ReturnType<typeof startDaemons>> | undefined;
  try {
    await cloudbridge(["init", A, "--remote", url, ...flags("a")], { ...env("a"), CLOUDBRIDGE_XMPP_PASSWORD: "a-pw" }, { quiet: true });
    await cloudbridge(["clone", url, B, ...flags("b")], env("b"), { quiet: true });
    const flagsOf = ["--debounce", "100", "--reconcile-interval", "600"];
    daemons = await startDaemons([
      { dir: A, env: env("a"), flags: flagsOf },
      { dir: B, env: env("b"), flags: flagsOf },
    ]);
    const latencies: number[] = [];
    for (let i = 0; i < CHANGES; i += 1) {
      const name = `file-${i % 10}.txt`;
      const content = `change ${i} ${randomBytes(8).toString("hex")}\n`;
      await writeFile(join(A, name), content);
      latencies.push(await arrival(join(B, name), holds(join(B, name), content), `change ${i}`, 60_000));
    }
    await new Promise((r) => setTimeout(r, 3000)); // let the last rounds and notifications settle
    proxy.reset();
    await new Promise((r) => setTimeout(r, IDLE_SECONDS * 1000));
    const idlePerHour = Object.fromEntries(
      Object.entries(proxy.counts).map(([service, n]) => [service, Math.round((n / 2) * (3600 / IDLE_SECONDS))]),
    );
    await daemons.stop();
    proxy.reset();
    await cloudbridge(["sync", A], env("a"), { quiet: true });
    const reconcile = proxy.counts.s3 + proxy.counts.sqs + proxy.counts.sns;
    return {
      listener,
      p50: percentile(latencies, 50),
      p95: percentile(latencies, 95),
      max: Math.max(...latencies),
      idlePerHour,
      reconcile,
    };
  } finally {
    await daemons?.stop();
    await proxy.stop();
    await cloud.stop();
    await prosody?.destroy();
    await rm(root, { recursive: true, force: true });
  }
}

/**
 * BENCH_TRACE: one change's steps, each named by the machine, the event and its step (`B round.step fetched`,
 * `#2` for its second time in the change), at its milliseconds from the write, for medians across changes.
 */
function stepTimes(logs: ReadonlyArray<{ who: string; at: number; line: Record<string, unknown> }>, written: number): Map<string, number> {
  const steps = new Map<string, number>();
  const seen = new Map<string, number>();
  for (const { who, at, line } of logs) {
    const name = `${who} ${String(line.event)}${typeof line.step === "string" ? ` ${line.step}` : ""}`;
    const n = (seen.get(name) ?? 0) + 1;
    seen.set(name, n);
    steps.set(n === 1 ? name : `${name} #${n}`, at - written);
  }
  return steps;
}

const sized = (path: string, size: number) => async () => (await stat(path).catch(() => undefined))?.size === size;
async function sha256(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

interface Side {
  name: "cloudbridge" | "Syncthing" | "baseline";
  a: string;
  b: string;
  latencies: number[];
  large: number[];
  /** BENCH_TRACE: per change, each step's milliseconds from the write (./stepTimes). */
  steps: Array<Map<string, number>>;
  /** BENCH_TRACE: the log lines of this side's daemons since its last change was written. */
  logs: Array<{ who: string; at: number; line: Record<string, unknown> }>;
}

interface SizeRow {
  files: number;
  sides: Side[];
}

/** One folder size: cloudbridge's two daemons and Syncthing's two instances on copies of the same files, taking turns. */
async function measureSize(files: number, withLarge: boolean): Promise<SizeRow> {
  const root = await mkdtemp(join(tmpdir(), `cb-bench-latency-${files}-`));
  const cloud = await startCloudProcess();
  const env = { ...cloud.env, ...GIT_ENV };
  const url = `s3://cloudbridge/latency-${files}`;
  let daemons: Awaited<ReturnType<typeof startDaemons>> | undefined;
  const cb: Side = { name: "cloudbridge", a: join(root, "cb-a"), b: join(root, "cb-b"), latencies: [], large: [], steps: [], logs: [] };
  const st: Side = { name: "Syncthing", a: join(root, "st-a"), b: join(root, "st-b"), latencies: [], large: [], steps: [], logs: [] };
  let pair: Awaited<ReturnType<typeof startSyncthingPair>> | undefined;
  const base: Side = { name: "baseline", a: join(root, "base-a"), b: join(root, "base-b"), latencies: [], large: [], steps: [], logs: [] };
  let baseDaemons: Awaited<ReturnType<typeof startDaemons>> | undefined;
  try {
    process.stderr.write(`  ${files} files: populating, init, clone…\n`);
    await populate(cb.a, files);
    const flags = ["--topic-arn", cloud.topicArn, "--listen", "sqs"];
    await cloudbridge(["init", cb.a, "--remote", url, ...flags], env, { quiet: true });
    await cloudbridge(["clone", url, cb.b, ...flags], env, { quiet: true });
    // Default settings; with BENCH_TRACE the log at debug level, kept to print each change's steps.
    const daemonEnv = CPU_PROF ? { ...env, NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${CPU_PROF}` } : env;
    const traced = (who: string, side: Side) =>
      TRACE
        ? {
            env: { ...daemonEnv, CLOUDBRIDGE_LOG_LEVEL: "debug" },
            onLog: (text: string) => {
              try {
                const line = JSON.parse(text) as Record<string, unknown>;
                side.logs.push({ who, at: Date.parse(String(line.time)), line });
              } catch {
                // not a log line
              }
            },
          }
        : { env: daemonEnv };
    daemons = await startDaemons([
      { dir: cb.a, ...traced("A", cb), ...(LAUNCHER ? { launcher: LAUNCHER } : {}) },
      { dir: cb.b, ...traced("B", cb), ...(LAUNCHER ? { launcher: LAUNCHER } : {}) },
    ]);
    if (BASELINE) {
      process.stderr.write(`  ${files} files: the baseline's folders…\n`);
      await populate(base.a, files);
      const baseUrl = `s3://cloudbridge/baseline-${files}`;
      await cloudbridge(["init", base.a, "--remote", baseUrl, ...flags], env, { quiet: true });
      await cloudbridge(["clone", baseUrl, base.b, ...flags], env, { quiet: true });
      const launcher = [join(BASELINE, "bin", "cloudbridge")];
      baseDaemons = await startDaemons([
        { dir: base.a, ...traced("A", base), launcher },
        { dir: base.b, ...traced("B", base), launcher },
      ]);
    }
    if (!syncthingMissing()) {
      process.stderr.write(`  ${files} files: Syncthing…\n`);
      // Both sides start with the same files: Syncthing scans and exchanges its index, nothing to copy.
      await populate(st.a, files);
      await populate(st.b, files);
      pair = await startSyncthingPair(root, st.a, st.b, 1);
    }
    const sides = [cb, ...(pair ? [st] : []), ...(baseDaemons ? [base] : [])];
    // Turns: a change with cloudbridge, then one with Syncthing, and so on (the machine's load is shared),
    // every other round in reverse, each after the last one's daemons have settled (SETTLE_MS): a change's
    // tail on B (the round's end after the file is written, the round B's own write starts) would otherwise
    // run during the next side's change, always the same side's (this code's, after the baseline's).
    await interleavedRounds(
      CHANGES,
      sides.map((side) => ({
        run: async (i: number) => {
          const name = `bench/file-${i % 10}.txt`;
          const content = `change ${i} ${randomBytes(8).toString("hex")}\n`;
          await mkdir(join(side.a, "bench"), { recursive: true });
          await new Promise((settled) => setTimeout(settled, SETTLE_MS));
          const written = Date.now();
          side.logs.length = 0;
          await writeFile(join(side.a, name), content);
          side.latencies.push(await arrival(join(side.b, name), holds(join(side.b, name), content), `${side.name} change ${i}`));
          if (TRACE && side.name !== "Syncthing") {
            const steps = side.logs.map(
              ({ who, at, line: { time: _t, level: _l, event, ...rest } }) =>
                `${who} +${at - written} ${String(event)} ${JSON.stringify(rest)}`,
            );
            process.stderr.write(
              `  ${side.name} change ${i}: ${Math.round(side.latencies.at(-1)!)} ms, written at ${new Date(written).toISOString()}\n    ${steps.join("\n    ")}\n`,
            );
            side.steps.push(stepTimes(side.logs, written));
          }
        },
      })),
      { turnOrder: true },
    );
    if (withLarge) {
      const size = LARGE_MIB * 1024 * 1024;
      for (let r = 0; r < LARGE_ROUNDS; r += 1) {
        const bytes = randomBytes(size);
        for (const side of sides.filter((s) => s !== base)) {
          const name = `large-${r}.bin`;
          await writeFile(join(side.a, name), bytes); // closed when this resolves
          side.large.push(await arrival(join(side.b, name), sized(join(side.b, name), size), `${side.name} ${name}`, 600_000));
          // Complete means the right bytes: checked outside the timing.
          if ((await sha256(join(side.b, name))) !== createHash("sha256").update(bytes).digest("hex"))
            throw new Error(`${side.name}: ${name} arrived with other bytes`);
        }
      }
    }
    return { files, sides };
  } finally {
    await daemons?.stop();
    await baseDaemons?.stop();
    await pair?.stop();
    await cloud.stop();
    await rm(root, { recursive: true, force: true });
  }
}

const fmt = (ms: number) => `${Math.round(ms).toLocaleString("en")} ms`;
const median = (values: number[]) => percentile(values, 50);
const out: string[] = [];
if (syncthingMissing()) out.push(`Syncthing not measured: ${syncthingMissing()}`);
const sizeRows: SizeRow[] = [];
for (const [index, files] of SIZES.entries()) {
  process.stderr.write(`measuring a folder of ${files} files…\n`);
  sizeRows.push(await measureSize(files, index === 0 && LARGE_MIB > 0));
}
out.push(
  `Small file A→B at default settings (SQS), ${CHANGES} changes per folder size, cloudbridge and Syncthing (watcher delay 1 s) taking turns`,
  "",
  "| files in the folder | cloudbridge p50 | cloudbridge p95 | Syncthing p50 | Syncthing p95 | p50 ratio |",
  "|---|---|---|---|---|---|",
  ...sizeRows.map(({ files, sides }) => {
    const cb = sides.find((s) => s.name === "cloudbridge");
    const st = sides.find((s) => s.name === "Syncthing");
    const peer = st
      ? [fmt(median(st.latencies)), fmt(percentile(st.latencies, 95)), (median(cb!.latencies) / median(st.latencies)).toFixed(2)]
      : ["–", "–", "–"];
    return `| ${files.toLocaleString("en")} | ${fmt(median(cb!.latencies))} | ${fmt(percentile(cb!.latencies, 95))} | ${peer.join(" | ")} |`;
  }),
);
if (sizeRows.length > 1) {
  const p50s = sizeRows.map((r) => median(r.sides[0]!.latencies));
  out.push("", `cloudbridge p50, largest folder / smallest: ${(p50s.at(-1)! / p50s[0]!).toFixed(2)}×`);
}
if (BASELINE) {
  const of = (row: SizeRow, name: Side["name"]) => row.sides.find((s) => s.name === name)!.latencies;
  out.push(
    "",
    `Against the baseline (${BASELINE}), taking turns in the same run:`,
    "",
    "| files in the folder | this code p50 / p95 | baseline p50 / p95 | p50 ratio |",
    "|---|---|---|---|",
    ...sizeRows.map((row) => {
      const [mine, theirs] = [of(row, "cloudbridge"), of(row, "baseline")];
      return `| ${row.files.toLocaleString("en")} | ${fmt(median(mine))} / ${fmt(percentile(mine, 95))} | ${fmt(median(theirs))} / ${fmt(percentile(theirs, 95))} | ${(median(mine) / median(theirs)).toFixed(2)} |`;
    }),
  );
  if (TRACE)
    for (const row of sizeRows) {
      // Each step's median time from the write, this code against the baseline in the same turns: where they part.
      const [mine, theirs] = [row.sides.find((s) => s.name === "cloudbridge")!, row.sides.find((s) => s.name === "baseline")!];
      const at = (side: Side, step: string) => {
        const times = side.steps.flatMap((change) => (change.has(step) ? [change.get(step)!] : []));
        return times.length > 0 ? { median: median(times), seen: times.length } : undefined;
      };
      const names = [...new Set([...mine.steps, ...theirs.steps].flatMap((change) => [...change.keys()]))];
      const order = (step: string) => at(mine, step)?.median ?? at(theirs, step)!.median;
      const cell = (side: Side, step: string) => {
        const found = at(side, step);
        return found ? `+${Math.round(found.median)} ms (${found.seen}/${side.steps.length})` : "–";
      };
      out.push(
        "",
        `Steps of a change in the ${row.files.toLocaleString("en")}-file folder, median ms from the write (changes where seen):`,
        "",
        "| step | this code | baseline |",
        "|---|---|---|",
        ...names.sort((a, b) => order(a) - order(b)).map((step) => `| ${step} | ${cell(mine, step)} | ${cell(theirs, step)} |`),
      );
    }
  if (sizeRows.length > 1) {
    const p50s = sizeRows.map((r) => median(of(r, "baseline")));
    out.push("", `baseline p50, largest folder / smallest: ${(p50s.at(-1)! / p50s[0]!).toFixed(2)}×`);
  }
}
const large = sizeRows[0]?.sides.filter((s) => s.large.length > 0 && s.name !== "baseline") ?? [];
if (large.length > 0) {
  out.push(
    "",
    `${LARGE_MIB} MiB A→B (closed on A to complete on B), median of ${LARGE_ROUNDS}, in the ${sizeRows[0]!.files.toLocaleString("en")}-file folder:`,
    "",
    "| | median | all rounds |",
    "|---|---|---|",
    ...large.map((s) => `| ${s.name} | ${fmt(median(s.large))} | ${s.large.map(fmt).join(", ")} |`),
  );
  if (large.length === 2) out.push("", `ratio cloudbridge / Syncthing: ${(median(large[0]!.large) / median(large[1]!.large)).toFixed(2)}`);
}
process.stdout.write(`${out.join("\n")}\n`);

const rows: Row[] = [];
for (const listener of LISTENERS) {
  process.stderr.write(`measuring ${listener}…\n`);
  rows.push(await measure(listener));
  process.stderr.write(`${JSON.stringify(rows.at(-1))}\n`);
}
const lines = [
  `Agent latency and idle cost: ${CHANGES} changes per listener, ${IDLE_SECONDS} s idle (polling every ${POLL_SECONDS} s), daemons with --debounce 100`,
  "",
  "| listener | p50 | p95 | max | idle S3 req/h | idle SQS req/h | one reconcile round (requests) |",
  "|---|---|---|---|---|---|---|",
  ...rows.map(
    (r) =>
      `| ${r.listener} | ${fmt(r.p50)} | ${fmt(r.p95)} | ${fmt(r.max)} | ${r.idlePerHour.s3} | ${r.idlePerHour.sqs} | ${r.reconcile} |`,
  ),
];
if (rows.length > 0) process.stdout.write(`\n${lines.join("\n")}\n`);
