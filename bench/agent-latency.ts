/**
 * The agent end to end, per listener (SQS, XMPP with a real prosody, polling): latency from a file closed
 * on machine A to the same file complete on machine B, p50/p95 over 100 changes; then the requests an
 * idle daemon makes, counted by a proxy in front of `cloudbridge local`, as requests per hour, and the
 * requests one reconcile round costs (a `cloudbridge sync` with nothing to do).
 * Run: `npm run bench:agent` (BENCH_CHANGES, BENCH_IDLE_SECONDS, BENCH_POLL_SECONDS to change).
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startProsody } from "../test/helpers/prosody.ts";
import { GIT_ENV } from "../test/helpers/git.ts";
import { cloudbridge, daemon, percentile, startCloudProcess, startCountingProxy, stopChild } from "./agent-common.ts";

const CHANGES = Number(process.env.BENCH_CHANGES ?? 100);
const IDLE_SECONDS = Number(process.env.BENCH_IDLE_SECONDS ?? 60);
const POLL_SECONDS = Number(process.env.BENCH_POLL_SECONDS ?? 2);

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
  const started = [];
  try {
    await cloudbridge(["init", A, "--remote", url, ...flags("a")], { ...env("a"), CLOUDBRIDGE_XMPP_PASSWORD: "a-pw" }, { quiet: true });
    await cloudbridge(["clone", url, B, ...flags("b")], env("b"), { quiet: true });
    const daemonFlags = ["--debounce", "100", "--reconcile-interval", "600"];
    for (const [dir, who] of [
      [A, "a"],
      [B, "b"],
    ] as const) {
      const d = daemon(dir, env(who), daemonFlags);
      started.push(d.child);
      await d.ready;
    }
    const latencies: number[] = [];
    for (let i = 0; i < CHANGES; i += 1) {
      const name = `file-${i % 10}.txt`;
      const content = `change ${i} ${randomBytes(8).toString("hex")}\n`;
      await writeFile(join(A, name), content);
      const start = performance.now();
      for (;;) {
        if ((await readFile(join(B, name), "utf8").catch(() => "")) === content) break;
        if (performance.now() - start > 60_000) throw new Error(`change ${i} did not arrive within 60 s`);
        await new Promise((r) => setTimeout(r, 5));
      }
      latencies.push(performance.now() - start);
    }
    await new Promise((r) => setTimeout(r, 3000)); // let the last rounds and notifications settle
    proxy.reset();
    await new Promise((r) => setTimeout(r, IDLE_SECONDS * 1000));
    const idlePerHour = Object.fromEntries(
      Object.entries(proxy.counts).map(([service, n]) => [service, Math.round((n / 2) * (3600 / IDLE_SECONDS))]),
    );
    for (const child of started) await stopChild(child);
    started.length = 0;
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
    for (const child of started) await stopChild(child);
    await proxy.stop();
    await cloud.stop();
    await prosody?.destroy();
    await rm(root, { recursive: true, force: true });
  }
}

const rows: Row[] = [];
for (const listener of ["sqs", "xmpp", "poll"] as const) {
  process.stderr.write(`measuring ${listener}…\n`);
  rows.push(await measure(listener));
  process.stderr.write(`${JSON.stringify(rows.at(-1))}\n`);
}
const fmt = (ms: number) => `${Math.round(ms)} ms`;
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
process.stdout.write(`${lines.join("\n")}\n`);
