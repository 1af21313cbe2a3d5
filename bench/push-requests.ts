/**
 * S3 requests and bytes of a one-file push, against the history before it (1, 100, 800 pushes) and the
 * number of agents (2, 10, 50), beside native git's push of the same commit, in one run; then the S3
 * requests of one small change between two real daemons, end to end, with 2, 10 and 50 agents.
 *
 * - "remote helper": what `git push` through git-remote-cloudbridge does (`list for-push`, one read of the
 *   refs index, then push of main), in process so every request is counted;
 * - "daemon": what a sync round does (a fetch, then main and git-annex in one push);
 * - native git: the thin pack `git push` sends to a bare repository for the same commit (its bytes).
 * - end to end: two daemons (`cloudbridge daemon`, SQS listeners) behind a counting proxy; a file written in
 *   A until it is in B and both are quiet again. Other agents are presence records and synced refs in the
 *   index, as many agents that pushed before would leave.
 *
 * Each figure is the median of BENCH_ROUNDS rounds. Run: `npm run bench:push-requests`
 * (BENCH_HISTORY="1,100,800", BENCH_AGENTS="2,10,50", BENCH_FILES=1000, BENCH_ROUNDS=5, BENCH_E2E=1,
 * BENCH_BASELINE=1: the history pushed again with one pack per push, as before pushes folded packs;
 * BENCH_FOLLOWER=1: another machine fetches after each push of the history, its bytes down counted).
 */
import { randomUUID } from "node:crypto";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { S3Client } from "@aws-sdk/client-s3";
import { S3ObjectStore } from "../objectstore/s3-object-store.ts";
import { BucketLayout } from "../protocol/layout.ts";
import { fetchRefs, push, readRefsIndex, type RepoContext } from "../gitstore/index.ts";
import { writePresence } from "../agent/presence.ts";
import { gitText, runGit } from "../localgit/index.ts";
import { GIT_ENV } from "../test/helpers/git.ts";
import { CountingStore } from "./counting-store.ts";
import { arrival, cloudbridge, holds, startCloudProcess, startCountingProxy, startDaemons } from "./agent-common.ts";

const list = (value: string | undefined, fallback: number[]) => (value ? value.split(",").map(Number) : fallback);
const HISTORY = list(process.env.BENCH_HISTORY, [1, 100, 800]);
const AGENTS = list(process.env.BENCH_AGENTS, [2, 10, 50]);
const FILES = Number(process.env.BENCH_FILES ?? 1000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const E2E = process.env.BENCH_E2E !== "0";
const BASELINE = process.env.BENCH_BASELINE !== "0";
const FOLLOWER = process.env.BENCH_FOLLOWER !== "0";

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const kib = (bytes: number) => `${(bytes / 1024).toFixed(1)} KiB`;
const git = (cwd: string, ...args: string[]) => gitText(args, { cwd, env: GIT_ENV });

const cloud = await startCloudProcess();
const s3 = new S3Client({
  region: cloud.env.AWS_REGION,
  endpoint: cloud.endpoint,
  forcePathStyle: true,
  credentials: { accessKeyId: cloud.env.AWS_ACCESS_KEY_ID!, secretAccessKey: cloud.env.AWS_SECRET_ACCESS_KEY! },
});
const BUCKET = "cloudbridge";
const raw = new S3ObjectStore(BUCKET, s3);
const store = new CountingStore(raw);
const followerStore = new CountingStore(raw);
const layout = new BucketLayout("bench-push");
const work = await mkdtemp(join(tmpdir(), "cloudbridge-bench-push-"));

/** A repository of FILES files in 10 folders, with `history` commits of one file each on top. */
async function makeRepo(name: string, history: number): Promise<{ dir: string; ctx: RepoContext; commits: string[] }> {
  const dir = join(work, name);
  await mkdir(dir);
  await git(dir, "init", "-q", "-b", "main");
  const lines: string[] = [];
  let time = 1_700_000_000;
  for (let i = 0; i < history; i++) {
    lines.push("commit refs/heads/main", `committer Bench <bench@example.com> ${time++} +0000`, "data 6", "commit");
    if (i === 0) {
      for (let f = 0; f < FILES; f++) {
        const content = `file ${f} ${"x".repeat(200)}\n`;
        lines.push(`M 100644 inline d${f % 10}/f${f}.txt`, `data ${content.length}`, content);
      }
    } else lines.push(`M 100644 inline d${i % 10}/f${i % FILES}.txt`, `data 8`, `edit ${String(i).padStart(3, "0")}`);
    lines.push("");
  }
  await runGit(["fast-import", "--quiet"], { cwd: dir, env: GIT_ENV, input: `${lines.join("\n")}\n` });
  await git(dir, "checkout", "-q", "-f", "main");
  const commits = (await git(dir, "rev-list", "--reverse", "main")).split("\n");
  return { dir, ctx: { store: raw, layout, repo: name, gitDir: join(dir, ".git") }, commits };
}

async function commitOne(dir: string, round: number): Promise<string> {
  await writeFile(join(dir, "d0", "f0.txt"), `round ${round} ${randomUUID()}\n`);
  await git(dir, "commit", "-q", "-am", `round ${round}`);
  return git(dir, "rev-parse", "HEAD");
}

/** The bytes `git push` sends for `tip` over `base`: git's thin pack, as pack-objects makes it for send-pack. */
async function nativePushBytes(dir: string, base: string, tip: string): Promise<number> {
  const pack = await runGit(["pack-objects", "--revs", "--thin", "--stdout", "-q"], {
    cwd: dir,
    env: GIT_ENV,
    input: `${tip}\n^${base}\n`,
  });
  return pack.stdout.length;
}

interface HistoryFigures {
  up: number[];
  requests: number[];
  native: number[];
  packs: number;
  listBytes: number;
  /** Bytes another machine downloads to follow each push (a fetch after it). */
  down: number[];
}

/** Pushes `repo`'s commits one at a time, counting each push after the first (the import of every file). */
async function pushHistory(
  repo: { dir: string; ctx: RepoContext; commits: string[] },
  agent: string,
  foldPacks: boolean,
): Promise<HistoryFigures> {
  const figures: HistoryFigures = { up: [], requests: [], native: [], packs: 0, listBytes: 0, down: [] };
  const followerDir = join(work, `${repo.ctx.repo}-follower`);
  await mkdir(followerDir);
  await git(followerDir, "init", "-q", "-b", "main");
  const follower = { ...repo.ctx, gitDir: join(followerDir, ".git"), store: followerStore };
  for (const [i, oid] of repo.commits.entries()) {
    store.reset();
    await push({ ...repo.ctx, store, agent, foldPacks, updates: [{ ref: "refs/heads/main", oid }] });
    followerStore.reset();
    if (FOLLOWER) await fetchRefs(follower);
    if (i === 0) continue;
    figures.up.push(store.bytesUp);
    figures.requests.push(store.requests);
    figures.native.push(await nativePushBytes(repo.dir, repo.commits[i - 1]!, oid));
    if (FOLLOWER) figures.down.push(followerStore.bytesDown);
  }
  const list = await raw.get(layout.infoPacks(repo.ctx.repo));
  if (list && list !== "not-modified") {
    figures.listBytes = list.size;
    figures.packs = list.body
      .toString()
      .split("\n")
      .filter((line) => line.startsWith("P ")).length;
  }
  return figures;
}

function historyRow(history: number, label: string, figures: HistoryFigures): string {
  if (figures.up.length === 0) return `| ${history} | ${label} | – | – | – | – | ${figures.packs} | ${figures.listBytes} B | – | – | – |`;
  const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;
  return (
    `| ${history} | ${label} | ${kib(mean(figures.up))} | ${kib(median(figures.up))} | ${kib(Math.max(...figures.up))} | ` +
    `${median(figures.requests)}, ${Math.max(...figures.requests)} | ${figures.packs} | ${figures.listBytes} B | ` +
    `${FOLLOWER ? kib(mean(figures.down)) : "–"} | ${Math.round(mean(figures.native))} B | ${(mean(figures.up) / mean(figures.native)).toFixed(1)}× |`
  );
}

interface Figures {
  requests: number[];
  up: number[];
  down: number[];
  native: number[];
}
const emptyFigures = (): Figures => ({ requests: [], up: [], down: [], native: [] });

/** ROUNDS one-file pushes from `dir`, through the helper's steps and the daemon's, counted. */
async function measurePushes(repo: { dir: string; ctx: RepoContext }, agent: string): Promise<{ helper: Figures; daemon: Figures }> {
  const helper = emptyFigures();
  const daemonFigures = emptyFigures();
  const counted = { ...repo.ctx, store };
  for (let round = 0; round < ROUNDS; round++) {
    for (const [figures, mode] of [
      [helper, "helper"],
      [daemonFigures, "daemon"],
    ] as const) {
      const base = await git(repo.dir, "rev-parse", "HEAD");
      const oid = await commitOne(repo.dir, round * 2 + (mode === "daemon" ? 1 : 0));
      const annex = mode === "daemon" ? await git(repo.dir, "commit-tree", "-p", "refs/heads/git-annex", "-m", "log", `${oid}^{tree}`) : "";
      store.reset();
      if (mode === "helper") {
        await readRefsIndex(counted); // `list for-push`
        await push({ ...counted, agent, updates: [{ ref: "refs/heads/main", oid }] });
      } else {
        await fetchRefs({ ...counted, required: ["refs/heads/main", "refs/heads/git-annex"] });
        await push({
          ...counted,
          agent,
          remote: "cloud",
          updates: [
            { ref: "refs/heads/main", oid },
            { ref: "refs/heads/git-annex", oid: annex },
          ],
        });
        await git(repo.dir, "update-ref", "refs/heads/git-annex", annex);
      }
      figures.requests.push(store.requests);
      figures.up.push(store.bytesUp);
      figures.down.push(store.bytesDown);
      figures.native.push(await nativePushBytes(repo.dir, base, oid));
    }
  }
  return { helper, daemon: daemonFigures };
}

function row(label: string, figures: Figures): string {
  const up = median(figures.up);
  const native = median(figures.native);
  return `| ${label} | ${median(figures.requests)} | ${kib(up)} | ${kib(median(figures.down))} | ${native} B | ${(up / native).toFixed(1)}× |`;
}

try {
  console.log(
    `git ${(await gitText(["--version"])).replace("git version ", "")}, Node ${process.version}, ${FILES} files, ${ROUNDS} rounds, ` +
      `load average ${(await readFile("/proc/loadavg", "utf8").catch(() => "?")).split(" ").slice(0, 3).join(" ")}`,
  );
  console.log("\nOne-file push (median of rounds)\n");
  console.log("| history, agents, path | S3 requests | bytes up | bytes down | native git push | up vs native |");
  console.log("| --- | ---: | ---: | ---: | ---: | ---: |");
  const histories: string[] = [];
  for (const history of HISTORY) {
    const repo = await makeRepo(`history-${history}`, history);
    const agent = randomUUID();
    // The history, pushed one commit at a time (one push each, as it would have been), counted; and the
    // same history again with one pack per push, as before packs were folded.
    const folded = await pushHistory(repo, agent, true);
    if (BASELINE) {
      const before = await makeRepo(`history-${history}-unfolded`, history);
      histories.push(historyRow(history, "one pack per push (before)", await pushHistory(before, agent, false)));
    }
    histories.push(historyRow(history, "packs folded (now)", folded));
    await git(repo.dir, "branch", "git-annex", "main");
    const { helper, daemon: viaDaemon } = await measurePushes(repo, agent);
    console.log(row(`${history} pushes, 1 agent, remote helper`, helper));
    console.log(row(`${history} pushes, 1 agent, daemon round`, viaDaemon));
  }
  console.log("\nThe history's one-file pushes (every push after the first, the import), as they were made\n");
  console.log(
    "| history | pushes | bytes up per push, amortized | median | worst single push | S3 requests per push (median, most) | packs listed after | objects/info/packs | a follower's bytes down per push, amortized | native git push, amortized | amortized up vs native |",
  );
  console.log("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
  for (const line of histories) console.log(line);
  for (const agents of AGENTS) {
    const repo = await makeRepo(`agents-${agents}`, 1);
    const agent = randomUUID();
    await push({ ...repo.ctx, agent, updates: [{ ref: "refs/heads/main", oid: repo.commits[0]! }] });
    // The other agents' synced refs of main and git-annex, as their pushes would have left them.
    for (let i = 1; i < agents; i++) {
      const other = randomUUID();
      await push({
        ...repo.ctx,
        agent: other,
        updates: [
          { ref: "refs/heads/main", oid: repo.commits[0]! },
          { ref: "refs/heads/git-annex", oid: repo.commits[0]! },
        ],
      });
    }
    await git(repo.dir, "branch", "git-annex", "main");
    await fetchRefs(repo.ctx);
    const { helper, daemon: viaDaemon } = await measurePushes(repo, agent);
    console.log(row(`1 push, ${agents} agents, remote helper`, helper));
    console.log(row(`1 push, ${agents} agents, daemon round`, viaDaemon));
  }
  if (E2E) await endToEnd();
} finally {
  s3.destroy();
  await cloud.stop();
  await rm(work, { recursive: true, force: true });
}

/** S3 requests of one small change from daemon A to daemon B (both counted), with other agents present. */
async function endToEnd(): Promise<void> {
  console.log("\nOne small change between two daemons, end to end (S3 requests of both, median of rounds)\n");
  console.log("| agents | S3 requests A→B | of which A | of which B |");
  console.log("| ---: | ---: | ---: | ---: |");
  // One counting proxy per machine, so each one's requests are told apart.
  const proxies = { a: await startCountingProxy(cloud.endpoint), b: await startCountingProxy(cloud.endpoint) };
  try {
    for (const agents of AGENTS) {
      const root = await mkdtemp(join(work, `e2e-${agents}-`));
      const env = (who: "a" | "b") => ({ ...cloud.env, ...GIT_ENV, AWS_ENDPOINT_URL: proxies[who].endpoint });
      const flags = ["--topic-arn", cloud.topicArn, "--listen", "sqs"];
      const url = `s3://${BUCKET}/bench-e2e-${agents}`;
      const A = join(root, "a");
      const B = join(root, "b");
      await mkdir(A);
      await writeFile(join(A, "start.txt"), "start\n");
      await cloudbridge(["init", A, "--remote", url, ...flags], env("a"), { quiet: true });
      await cloudbridge(["clone", url, B, ...flags], env("b"), { quiet: true });
      // Other agents: a presence record and synced refs each, as agents that synced before leave them.
      const location = { bucket: BUCKET, prefix: "", repo: `bench-e2e-${agents}` };
      const seed = { store: raw, layout: new BucketLayout(), repo: location.repo, gitDir: join(B, ".git") };
      const tip = await git(B, "rev-parse", "refs/remotes/cloud/main");
      for (let i = 2; i < agents; i++) {
        const other = randomUUID();
        await writePresence(raw, location, {
          agent: other,
          description: `agent ${i}`,
          listen: "sqs",
          state: "running",
          startedAt: new Date().toISOString(),
        });
        await push({ ...seed, agent: other, updates: [{ ref: "refs/heads/main", oid: tip }] });
      }
      const daemonFlags = ["--debounce", "100", "--reconcile-interval", "600"];
      const daemons = await startDaemons([
        { dir: A, env: env("a"), flags: daemonFlags },
        { dir: B, env: env("b"), flags: daemonFlags },
      ]);
      try {
        await new Promise((ok) => setTimeout(ok, 2000));
        const ofA: number[] = [];
        const ofB: number[] = [];
        for (let round = 0; round < ROUNDS; round++) {
          proxies.a.reset();
          proxies.b.reset();
          const content = `change ${round} ${randomUUID()}\n`;
          await writeFile(join(A, "note.txt"), content);
          await arrival(join(B, "note.txt"), holds(join(B, "note.txt"), content), `change ${round}`, 60_000, 20);
          await new Promise((ok) => setTimeout(ok, 1500)); // both quiet again
          ofA.push(proxies.a.counts.s3);
          ofB.push(proxies.b.counts.s3);
          if (process.env.BENCH_VERBOSE) console.log([...proxies.a.s3Requests, "--", ...proxies.b.s3Requests].join("\n"));
        }
        const total = ofA.map((a, i) => a + ofB[i]!);
        console.log(`| ${agents} | ${median(total)} | ${median(ofA)} | ${median(ofB)} |`);
      } finally {
        await daemons.stop();
      }
    }
  } finally {
    await proxies.a.stop();
    await proxies.b.stop();
  }
}
