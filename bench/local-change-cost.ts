/**
 * The local part of one small change, at each folder size, in one process: what grows with the folder in
 * the agent's own work, without the cloud, the notifications and the other machine's load in the way
 * (bench/agent-latency.ts measures the whole A→B path against Syncthing).
 *
 * Per size (BENCH_SIZES, default 1000,10000; e.g. 1000,100000 for the goal's range): a folder A of that
 * many files (500 per directory) committed once, and a copy B reading A's objects. Each change
 * (BENCH_CHANGES, default 20) writes one file in A, commits it as the daemon does (`commitChanges` of that
 * path, the folder let go: the stat cache saved and git's index brought up to date), then B checks the
 * commit out (the file written, B's index and cache updated). Sizes take turns change by change; medians,
 * and each size against the smallest in the same run. Also counted: the git processes each side starts
 * per change.
 *
 * Run: `node --disable-warning=ExperimentalWarning bench/local-change-cost.ts` (under `flock
 * /tmp/cloudbridge-bench.lock` for the large sizes).
 */
import childProcess from "node:child_process";
import { cp, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { syncBuiltinESMExports } from "node:module";
import { join } from "node:path";
import { LocalRepo } from "../agent/sync/local-repo.ts";
import { percentile, populate } from "./agent-common.ts";

const SIZES = (process.env.BENCH_SIZES ?? "1000,10000")
  .split(",")
  .map(Number)
  .filter((n) => n > 0);
const CHANGES = Number(process.env.BENCH_CHANGES ?? 20);

/** git processes started by this process, counted through the one runner's spawn (localgit/run.ts uses node:child_process). */
let spawned = 0;
const spawn = childProcess.spawn;
childProcess.spawn = ((...args: Parameters<typeof spawn>) => {
  spawned += 1;
  return spawn(...args);
}) as typeof spawn;
syncBuiltinESMExports();

interface Pair {
  files: number;
  a: LocalRepo;
  b: LocalRepo;
  commit: number[];
  checkout: number[];
  commitProcesses: number[];
  checkoutProcesses: number[];
}

const root = await mkdtemp(join(tmpdir(), "cb-bench-change-cost-"));
try {
  const pairs: Pair[] = [];
  for (const files of SIZES) {
    process.stderr.write(`  ${files} files: populating and committing…\n`);
    const dirA = join(root, `a-${files}`);
    const dirB = join(root, `b-${files}`);
    await populate(dirA, files);
    await LocalRepo.create(dirA);
    const a = await new LocalRepo(dirA).open();
    await a.commitChanges();
    await mkdir(join(dirA, "bench"), { recursive: true });
    await cp(dirA, dirB, { recursive: true });
    // B reads A's objects (as if fetched): only the checkout is measured on its side.
    await writeFile(join(dirB, ".git", "objects", "info", "alternates"), `${join(dirA, ".git", "objects")}\n`);
    const b = await new LocalRepo(dirB).open();
    pairs.push({ files, a, b, commit: [], checkout: [], commitProcesses: [], checkoutProcesses: [] });
  }
  for (let i = 0; i < CHANGES; i += 1) {
    for (const pair of pairs) {
      const name = `bench/file-${i % 10}.txt`;
      await writeFile(join(pair.a.root, name), `change ${i} ${Math.random()}\n`);
      let started = performance.now();
      let before = spawned;
      const { commit } = await pair.a.commitChanges({ paths: [name] });
      pair.commit.push(performance.now() - started);
      pair.commitProcesses.push(spawned - before);
      started = performance.now();
      before = spawned;
      await pair.b.checkout(commit!);
      pair.checkout.push(performance.now() - started);
      pair.checkoutProcesses.push(spawned - before);
    }
  }
  const fmt = (ms: number) => `${ms.toFixed(1)} ms`;
  const median = (values: number[]) => percentile(values, 50);
  const base = pairs[0]!;
  const lines = [
    `One small change, the agent's local work (no cloud), ${CHANGES} changes per size, sizes taking turns; medians`,
    "",
    "| files | commit on A | checkout on B | both | both / smallest | git processes: commit, checkout |",
    "|---|---|---|---|---|---|",
    ...pairs.map((p) => {
      const both = median(p.commit.map((c, i) => c + p.checkout[i]!));
      const baseBoth = median(base.commit.map((c, i) => c + base.checkout[i]!));
      return `| ${p.files.toLocaleString("en")} | ${fmt(median(p.commit))} | ${fmt(median(p.checkout))} | ${fmt(both)} | ${(both / baseBoth).toFixed(2)}× | ${median(p.commitProcesses)}, ${median(p.checkoutProcesses)} |`;
    }),
  ];
  process.stdout.write(`${lines.join("\n")}\n`);
} finally {
  await rm(root, { recursive: true, force: true });
}
