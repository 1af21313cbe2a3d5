/**
 * Many machines on one bucket: simulated agents on `cloudbridge local`, AGENTS_PER_REPO to a repository
 * (200 agents → 20 repositories), each a light loop over gitstore in a few worker processes
 * (bench/many-agents-worker.ts): its own SQS queue on the change topic, fetches on notifications (after
 * the daemon's random spread), and CHANGES pushes of its own at random times within WINDOW seconds,
 * merging on conflict as the daemon does. Printed per agent count:
 *
 * - S3 requests per change: the push's, and the fetches' (each notified agent's fetch, and how many fetches
 *   a change caused) — a push must cost the same whatever the number of agents;
 * - latency from a commit made on one agent to each other agent of its repository having it (p50/p95);
 * - write conflicts retried (412 on info/refs, objects/info/packs, shared refs), and the most in one push;
 * - the most fetches of one repository that started in the same millisecond (the spread at work);
 * - that every change landed: each pushed commit is reachable from the bucket's branch at the end.
 *
 *   npm run bench:many-agents                         # 10 and 50 agents
 *   BENCH_AGENTS=200 npm run bench:many-agents        # 10, 50 and 200 (the full figure)
 *   BENCH_CHANGES=1 BENCH_WINDOW_S=60 BENCH_AGENTS_PER_REPO=10 BENCH_WORKERS=3 BENCH_HINT_SPREAD_MS=50
 */
import { fork, type ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { HINT_SPREAD_MS } from "../agent/listen/hint-spread.ts";
import { fetchRefs, push } from "../gitstore/index.ts";
import { gitText, initRepository } from "../localgit/index.ts";
import { createS3Client, S3ObjectStore } from "../objectstore/index.ts";
import { BucketLayout } from "../protocol/index.ts";
import { commitFile, initRepo } from "../test/helpers/git.ts";
import { startCloudProcess } from "./agent-common.ts";
import type { WorkerEvent, WorkerSetup } from "./many-agents-worker.ts";

const requested = (process.env.BENCH_AGENTS ?? "").split(",").filter(Boolean).map(Number);
const sizes =
  requested.length > 1
    ? [...new Set(requested)]
    : requested.length === 1
      ? [...new Set([10, 50, requested[0]!])].filter((n) => n <= requested[0]!)
      : [10, 50];
const perRepo = Number(process.env.BENCH_AGENTS_PER_REPO ?? 10);
const changes = Number(process.env.BENCH_CHANGES ?? 1);
const windowMs = Number(process.env.BENCH_WINDOW_S ?? 60) * 1000;
const settleMs = Number(process.env.BENCH_SETTLE_S ?? 60) * 1000;
const spreadMs = Number(process.env.BENCH_HINT_SPREAD_MS ?? HINT_SPREAD_MS);
const layout = new BucketLayout();
const MAIN = "refs/heads/main";
const WORKER = fileURLToPath(new URL("./many-agents-worker.ts", import.meta.url));

interface Row {
  agents: number;
  repos: number;
  changes: number;
  pushRequests: number;
  /** Requests of the pushes that met no conflict: what a push costs whatever the number of agents. */
  uncontendedPushRequests: number;
  /** Median time of one push (its retries included): the window in which another push can come first. */
  pushP50: number;
  fetchRequests: number;
  fetchesPerChange: number;
  hot: Record<string, number>;
  p50: number;
  p95: number;
  delivered: number;
  expected: number;
  conflicts: Record<string, number>;
  maxConflictsInOnePush: number;
  samePerMs: number;
  missing: number;
  failedRounds: number;
  unpushed: number;
  errors: string[];
}

const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
};

async function scenario(agents: number, work: string): Promise<Row> {
  const repos = Math.max(1, Math.ceil(agents / perRepo));
  const cloud = await startCloudProcess();
  const env = { ...process.env, ...cloud.env };
  Object.assign(process.env, cloud.env);
  const client = createS3Client();
  const store = new S3ObjectStore("cloudbridge", client);
  const children: ChildProcess[] = [];
  try {
    // Each repository starts with one commit every agent fetches before the changes begin.
    const seed = join(work, `seed-${agents}`);
    await mkdir(seed);
    const seedGit = await initRepo(seed);
    const first = await commitFile(seed, "README", "many agents\n");
    const repoNames = Array.from({ length: repos }, (_, r) => `load-${r}`);
    for (const repo of repoNames) {
      await push({ gitDir: seedGit, store, layout, repo, agent: randomUUID(), updates: [{ ref: MAIN, oid: first }] });
    }
    const all = Array.from({ length: agents }, (_, a) => ({ id: randomUUID(), repo: repoNames[a % repos]! }));
    const workers = Math.min(Number(process.env.BENCH_WORKERS ?? 3), agents);
    const events: WorkerEvent[] = [];
    const waiting = new Map<string, { count: number; done: () => void }>();
    const expect = (type: string, count: number) =>
      new Promise<void>((done) => {
        if (count === 0) done();
        else waiting.set(type, { count, done });
      });
    const onEvent = (event: WorkerEvent) => {
      events.push(event);
      const wait = waiting.get(event.type);
      if (wait && --wait.count === 0) wait.done();
    };
    const ready = expect("ready", workers);
    for (let w = 0; w < workers; w++) {
      const child = fork(WORKER, [], {
        env,
        execArgv: ["--disable-warning=ExperimentalWarning"],
        stdio: ["ignore", "inherit", "inherit", "ipc"],
      });
      child.on("message", onEvent);
      children.push(child);
      const setup: WorkerSetup = {
        bucket: "cloudbridge",
        topicArn: cloud.topicArn,
        workDir: join(work, `agents-${agents}-${w}`),
        agents: all.filter((_, a) => a % workers === w),
        changes,
        windowMs,
        spreadMs,
      };
      child.send({ type: "setup", setup });
    }
    await ready;
    const done = expect("changes-done", workers);
    for (const child of children) child.send({ type: "go" });
    await done;
    // Wait until every change has reached every other agent of its repository (or the settle time ran out).
    const peers = (repo: string) => all.filter((agent) => agent.repo === repo).length - 1;
    const pushed = () => events.filter((e): e is Extract<WorkerEvent, { type: "pushed" }> => e.type === "pushed");
    const seenPairs = () => {
      const pairs = new Set<string>();
      const landed = new Set(pushed().map((e) => e.commit));
      for (const e of events)
        if (e.type === "seen") for (const commit of e.commits) if (landed.has(commit)) pairs.add(`${e.agent} ${commit}`);
      return pairs.size;
    };
    const expected = () => pushed().reduce((sum, e) => sum + peers(e.repo), 0);
    const deadline = Date.now() + settleMs;
    const settled = () => pushed().length === agents * changes && seenPairs() >= expected();
    while (!settled() && Date.now() < deadline) await new Promise((ok) => setTimeout(ok, 250));
    const stats = expect("stats", workers);
    for (const child of children) child.send({ type: "stop" });
    await stats;

    // Every change landed: each pushed commit is in the history of its repository's branch in the bucket.
    let missing = 0;
    for (const repo of repoNames) {
      const gitDir = join(work, `verify-${agents}-${repo}`);
      await initRepository(gitDir, { bare: true });
      const result = await fetchRefs({ gitDir, store, layout, repo, remote: "cloud" });
      const tip = result.refs.shared.get(MAIN)!.oid;
      const history = new Set((await gitText(["rev-list", tip], { gitDir })).split("\n"));
      missing += pushed().filter((e) => e.repo === repo && !history.has(e.commit)).length;
    }

    const madeAt = new Map(pushed().map((e) => [e.commit, e.madeAt]));
    const firstSeen = new Map<string, number>();
    for (const e of events) {
      if (e.type !== "seen") continue;
      // Only changes whose push reported landing (a push that gave up may still have landed its ref).
      for (const commit of e.commits) {
        const made = madeAt.get(commit);
        if (made !== undefined && !firstSeen.has(`${e.agent} ${commit}`)) firstSeen.set(`${e.agent} ${commit}`, e.at - made);
      }
    }
    const fetched = events.filter((e): e is Extract<WorkerEvent, { type: "fetched" }> => e.type === "fetched");
    const starts = new Map<string, number>();
    for (const e of fetched) starts.set(`${e.repo} ${e.startedAt}`, (starts.get(`${e.repo} ${e.startedAt}`) ?? 0) + 1);
    const statsEvents = events.filter((e): e is Extract<WorkerEvent, { type: "stats" }> => e.type === "stats");
    const hot: Record<string, number> = {};
    const conflicts: Record<string, number> = {};
    for (const s of statsEvents) {
      for (const [name, n] of Object.entries(s.requests)) if (!name.startsWith("setup")) hot[name] = (hot[name] ?? 0) + n;
      for (const [name, n] of Object.entries(s.conflicts)) conflicts[name] = (conflicts[name] ?? 0) + n;
    }
    const n = pushed().length;
    return {
      agents,
      repos,
      changes: n,
      pushRequests: pushed().reduce((sum, e) => sum + e.requests, 0) / n,
      uncontendedPushRequests:
        pushed()
          .filter((e) => e.conflicts === 0)
          .reduce((sum, e) => sum + e.requests, 0) / pushed().filter((e) => e.conflicts === 0).length,
      pushP50: percentile(
        pushed().map((e) => e.pushMs),
        50,
      ),
      fetchRequests: fetched.reduce((sum, e) => sum + e.requests, 0) / fetched.length,
      fetchesPerChange: fetched.length / n,
      hot: Object.fromEntries(Object.entries(hot).map(([name, count]) => [name, count / n])),
      p50: percentile([...firstSeen.values()], 50),
      p95: percentile([...firstSeen.values()], 95),
      delivered: firstSeen.size,
      expected: expected(),
      conflicts,
      maxConflictsInOnePush: Math.max(0, ...statsEvents.map((s) => s.maxConflictsInOnePush)),
      samePerMs: Math.max(0, ...starts.values()),
      missing,
      failedRounds: statsEvents.reduce((sum, s) => sum + s.failedRounds, 0),
      unpushed: statsEvents.reduce((sum, s) => sum + s.unpushed, 0),
      errors: statsEvents.flatMap((s) => s.errors),
    };
  } finally {
    for (const child of children) if (child.exitCode === null) child.kill();
    client.destroy();
    await cloud.stop();
  }
}

const work = await mkdtemp(join(tmpdir(), "cloudbridge-bench-many-agents-"));
const rows: Row[] = [];
try {
  for (const agents of sizes) {
    const started = performance.now();
    const row = await scenario(agents, work);
    rows.push(row);
    console.log(
      `${agents} agents on ${row.repos} repositories: ${row.changes} changes in ${((performance.now() - started) / 1000).toFixed(0)} s` +
        (row.errors.length ? `; ${row.errors.length} errors, first: ${row.errors[0]}` : ""),
    );
  }
  const fixed = (n: number, digits = 1) => (Number.isFinite(n) ? n.toFixed(digits) : "–");
  const sum = (record: Record<string, number>) => Object.values(record).reduce((a, b) => a + b, 0);
  console.log(
    `\n${perRepo} agents a repository, ${changes} changes an agent within ${windowMs / 1000} s, notification spread 0–${spreadMs} ms\n`,
  );
  console.log(
    "| agents | repos | changes | S3 req. per push | of a push without conflict | push p50 ms | S3 req. per fetch | fetches per change | S3 req. per change, all agents | p50 ms | p95 ms | delivered | conflicts retried (per change) | most in one push | pushes given up, retried | most fetches of a repo in one ms | changes still waiting at the end | changes lost |",
  );
  console.log("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
  for (const row of rows) {
    console.log(
      `| ${row.agents} | ${row.repos} | ${row.changes} | ${fixed(row.pushRequests)} | ${fixed(row.uncontendedPushRequests)} | ${fixed(row.pushP50, 0)} | ${fixed(row.fetchRequests)} | ${fixed(row.fetchesPerChange)} | ${fixed(row.pushRequests + row.fetchRequests * row.fetchesPerChange)} | ${fixed(row.p50, 0)} | ${fixed(row.p95, 0)} | ${row.delivered}/${row.expected} | ${sum(row.conflicts)} (${fixed(sum(row.conflicts) / row.changes, 2)}) | ${row.maxConflictsInOnePush} | ${row.failedRounds} | ${row.samePerMs} | ${row.unpushed} | ${row.missing} |`,
    );
  }
  console.log("\nS3 requests per change by object (all agents), and conflicts by object:");
  for (const row of rows) {
    const hot = Object.entries(row.hot)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([name, n]) => `${name} ${fixed(n)}`)
      .join(", ");
    console.log(`  ${row.agents} agents: ${hot}`);
    console.log(`  ${row.agents} agents, conflicts: ${JSON.stringify(row.conflicts)}`);
  }
  // A change still waiting is on its agent, pushed by a later round (as the daemon's would be); a change
  // whose push landed and is not in the bucket's history is lost.
  if (rows.some((row) => row.missing > 0)) process.exitCode = 1;
} finally {
  await rm(work, { recursive: true, force: true });
}
