/**
 * A daemon on a folder of 100,000 files: how long it takes to start (a full scan against the stat cache,
 * nothing re-read), its resident memory once watching, and the CPU it uses while idle.
 * The folder is imported first with `cloudbridge init` (its time is printed too).
 * Run: `npm run bench:agent-scale` (BENCH_FILES to scale).
 */
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GIT_ENV } from "../test/helpers/git.ts";
import { cloudbridge, daemon, startCloudProcess, stopChild } from "./agent-common.ts";

const FILES = Number(process.env.BENCH_FILES ?? 100_000);
const PER_DIR = 500;

async function procStat(pid: number): Promise<{ rssMiB: number; cpuSeconds: number }> {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  const rssKiB = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  const fields = (await readFile(`/proc/${pid}/stat`, "utf8")).split(") ")[1]!.split(" ");
  const ticks = Number(fields[11]) + Number(fields[12]); // utime + stime
  return { rssMiB: rssKiB / 1024, cpuSeconds: ticks / 100 };
}

const root = await mkdtemp(join(tmpdir(), "cb-bench-scale-"));
const cloud = await startCloudProcess();
try {
  const folder = join(root, "big");
  for (let d = 0; d < FILES / PER_DIR; d += 1) {
    await mkdir(join(folder, `d${d}`), { recursive: true });
    await Promise.all(
      Array.from({ length: PER_DIR }, (_, f) => writeFile(join(folder, `d${d}`, `f${f}.txt`), randomBytes(32).toString("hex"))),
    );
  }
  const env = { ...cloud.env, ...GIT_ENV };
  let start = performance.now();
  await cloudbridge(["init", folder, "--remote", "s3://cloudbridge/big", "--json"], env, { quiet: true });
  const importMs = performance.now() - start;

  start = performance.now();
  const d = daemon(folder, env, ["--listen", "poll", "--poll-interval", "30"]);
  await d.ready;
  const readyMs = performance.now() - start;
  await new Promise((r) => setTimeout(r, 2000));
  const before = await procStat(d.child.pid!);
  const IDLE = 20;
  await new Promise((r) => setTimeout(r, IDLE * 1000));
  const after = await procStat(d.child.pid!);
  await stopChild(d.child);

  process.stdout.write(
    [
      `Daemon on a folder of ${FILES.toLocaleString("en")} files (${PER_DIR} per directory)`,
      "",
      "| figure | value |",
      "|---|---|",
      `| import (cloudbridge init, to cloudbridge local) | ${(importMs / 1000).toFixed(1)} s |`,
      `| daemon start to ready (full scan against the stat cache, watcher set up, first round) | ${(readyMs / 1000).toFixed(1)} s |`,
      `| daemon RSS once watching | ${Math.round(after.rssMiB)} MiB |`,
      `| daemon CPU while idle (${IDLE} s, polling every 30 s) | ${(((after.cpuSeconds - before.cpuSeconds) / IDLE) * 100).toFixed(2)} % of one core |`,
      "",
    ].join("\n"),
  );
} finally {
  await cloud.stop();
  await rm(root, { recursive: true, force: true });
}
