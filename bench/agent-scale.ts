/**
 * A daemon on a big folder, side by side with Syncthing on the same files in the same run (interleaved
 * rounds, medians): how long a warm start takes to be ready (the agent: scan against the stat cache,
 * watcher set up, first rounds; Syncthing: its folder "idle" after a restart), resident memory once idle,
 * the inotify watches each holds (one per directory is the goal, never one per file), and the agent's
 * CPU while idle. The folder is imported first with `cloudbridge init`, and Syncthing's first (cold) scan
 * is done before the rounds. Syncthing: `apt-get install syncthing`.
 * Run: `npm run bench:agent-scale` (10,000 files); BENCH_FILES=100000 for the figures in docs/performance.md;
 * BENCH_ROUNDS (default 3), BENCH_IDLE_S (seconds idle before memory is read, default 10).
 */
import { randomBytes } from "node:crypto";
import { cp, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { GIT_ENV } from "../test/helpers/git.ts";
import { cloudbridge, daemon, percentile, startCloudProcess, stopChild } from "./agent-common.ts";
import { syncthingFolder, syncthingMissing } from "./syncthing.ts";

const FILES = Number(process.env.BENCH_FILES ?? 10_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const IDLE_S = Number(process.env.BENCH_IDLE_S ?? 10);
const PER_DIR = 500;
/** The daemon is started as a person starts it: through bin/cloudbridge, with the Node flags it sets. */
const LAUNCHER = [fileURLToPath(new URL("../bin/cloudbridge", import.meta.url))];

const missing = syncthingMissing();
if (missing) {
  process.stderr.write(`${missing}\n`);
  process.exit(2);
}

/** A process and its children (Syncthing 1.19 runs a monitor process and the worker it starts). */
async function processTree(pid: number): Promise<number[]> {
  // Any thread may have started a child (Go does): each task lists its own.
  const children: number[] = [];
  for (const task of await readdir(`/proc/${pid}/task`).catch(() => [])) {
    const listed = await readFile(`/proc/${pid}/task/${task}/children`, "utf8").catch(() => "");
    children.push(...listed.split(" ").filter(Boolean).map(Number));
  }
  const below = await Promise.all(children.map((child) => processTree(child)));
  return [pid, ...below.flat()];
}

/** Resident memory and CPU time of a process and its children. */
async function procStat(pid: number): Promise<{ rssMiB: number; cpuSeconds: number }> {
  let rssKiB = 0;
  let ticks = 0;
  for (const one of await processTree(pid)) {
    const status = await readFile(`/proc/${one}/status`, "utf8").catch(() => "");
    rssKiB += Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
    const fields = (await readFile(`/proc/${one}/stat`, "utf8").catch(() => ") ")).split(") ")[1]!.split(" ");
    ticks += Number(fields[11] ?? 0) + Number(fields[12] ?? 0); // utime + stime
  }
  return { rssMiB: rssKiB / 1024, cpuSeconds: ticks / 100 };
}

/** inotify watches a process and its children hold (one `inotify wd:` line per watch in fdinfo). */
async function inotifyWatches(pid: number): Promise<number> {
  let watches = 0;
  for (const one of await processTree(pid))
    for (const fd of await readdir(`/proc/${one}/fdinfo`).catch(() => [])) {
      const info = await readFile(`/proc/${one}/fdinfo/${fd}`, "utf8").catch(() => "");
      for (const line of info.split("\n")) if (line.startsWith("inotify wd:")) watches += 1;
    }
  return watches;
}

interface Sample {
  readyMs: number;
  rssMiB: number;
  watches: number;
  idleCpu: number;
}

const root = await mkdtemp(join(tmpdir(), "cb-bench-scale-"));
const cloud = await startCloudProcess();
try {
  const folder = join(root, "big");
  const dirs = Math.ceil(FILES / PER_DIR);
  for (let d = 0; d < dirs; d += 1) {
    await mkdir(join(folder, `d${d}`), { recursive: true });
    const count = Math.min(PER_DIR, FILES - d * PER_DIR);
    await Promise.all(
      Array.from({ length: count }, (_, f) => writeFile(join(folder, `d${d}`, `f${f}.txt`), randomBytes(32).toString("hex"))),
    );
  }
  const peerFolder = join(root, "syncthing-folder");
  await cp(folder, peerFolder, { recursive: true });
  const env = { ...cloud.env, ...GIT_ENV };
  let start = performance.now();
  await cloudbridge(["init", folder, "--remote", "s3://cloudbridge/big", "--json"], env, { quiet: true });
  const importMs = performance.now() - start;
  const home = join(root, "syncthing-home");
  const peer = await syncthingFolder(home, peerFolder);
  start = performance.now();
  await peer.start(); // the cold scan, building Syncthing's index
  const peerColdMs = performance.now() - start;
  await peer.stop();

  const measure = async (pid: number, readyMs: number): Promise<Sample> => {
    await new Promise((r) => setTimeout(r, 2000));
    const before = await procStat(pid);
    await new Promise((r) => setTimeout(r, IDLE_S * 1000));
    const after = await procStat(pid);
    return { readyMs, rssMiB: after.rssMiB, watches: await inotifyWatches(pid), idleCpu: (after.cpuSeconds - before.cpuSeconds) / IDLE_S };
  };
  // The same daemon on an empty folder: what loading the program costs, whatever the folder's size. Started
  // once before it is measured, so that Node's compile cache holds the daemon's modules (a first start
  // compiles them and loads the TypeScript stripper: tens of MiB that no later start pays).
  const empty = join(root, "empty");
  await mkdir(empty);
  await cloudbridge(["init", empty, "--remote", "s3://cloudbridge/empty", "--json"], env, { quiet: true });
  const warmUp = daemon(empty, env, ["--listen", "poll", "--poll-interval", "30"], LAUNCHER);
  await warmUp.ready;
  await stopChild(warmUp.child);
  start = performance.now();
  const bare = daemon(empty, env, ["--listen", "poll", "--poll-interval", "30"], LAUNCHER);
  await bare.ready;
  const baseline = await measure(bare.child.pid!, performance.now() - start);
  await stopChild(bare.child);

  const ours: Sample[] = [];
  const theirs: Sample[] = [];
  for (let round = 0; round < ROUNDS; round += 1) {
    start = performance.now();
    const d = daemon(folder, env, ["--listen", "poll", "--poll-interval", "30"], LAUNCHER);
    await d.ready;
    ours.push(await measure(d.child.pid!, performance.now() - start));
    await stopChild(d.child);

    start = performance.now();
    const child = await peer.start();
    theirs.push(await measure(child.pid!, performance.now() - start));
    await peer.stop();
  }

  const median = (samples: Sample[], field: keyof Sample) =>
    percentile(
      samples.map((s) => s[field]),
      50,
    );
  const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
  const row = (what: string, field: keyof Sample, show: (v: number) => string) => {
    const a = median(ours, field);
    const b = median(theirs, field);
    return `| ${what} | ${show(a)} | ${show(b)} | ${b > 0 ? (a / b).toFixed(2) : "-"} |`;
  };
  process.stdout.write(
    [
      `Daemon on a folder of ${FILES.toLocaleString("en")} files (${PER_DIR} per directory, ${dirs} directories), against Syncthing 1.19 on the same files; ${ROUNDS} interleaved rounds, medians`,
      "",
      "| figure | cloudbridge daemon | Syncthing | ratio |",
      "|---|---|---|---|",
      row("warm start to ready (agent: scan against the stat cache, watcher, first rounds; Syncthing: folder idle)", "readyMs", s),
      row(
        `resident memory after ${IDLE_S + 2} s idle (Syncthing: its monitor and worker processes)`,
        "rssMiB",
        (v) => `${Math.round(v)} MiB`,
      ),
      row("inotify watches held", "watches", (v) => String(v)),
      row(`CPU while idle (${IDLE_S} s)`, "idleCpu", (v) => `${(v * 100).toFixed(2)} %`),
      "",
      `Import (cloudbridge init to cloudbridge local): ${s(importMs)}; Syncthing's first (cold) scan: ${s(peerColdMs)}.`,
      `The daemon on an empty folder (the program itself): ready in ${s(baseline.readyMs)}, ${Math.round(baseline.rssMiB)} MiB.`,
      `Rounds (ready ms / MiB): cloudbridge ${ours.map((o) => `${Math.round(o.readyMs)}/${Math.round(o.rssMiB)}`).join(", ")}; Syncthing ${theirs.map((o) => `${Math.round(o.readyMs)}/${Math.round(o.rssMiB)}`).join(", ")}`,
      "",
    ].join("\n"),
  );
} finally {
  await cloud.stop();
  // git's housekeeping may still be packing in the background (as after any git commit): retry the removal.
  await rm(root, { recursive: true, force: true, maxRetries: 20, retryDelay: 500 });
}
