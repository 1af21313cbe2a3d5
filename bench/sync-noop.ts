/**
 * `cloudbridge sync` with nothing to do, against `git status` on the same files in the same run: a folder
 * of N files of 1 KiB (100 directories) synced by `cloudbridge init`, and a plain git repository of a copy
 * (`git add -A && git commit`). Then interleaved rounds, medians: `git status --porcelain` in the plain
 * repository against `cloudbridge sync` with no daemon (the command scans the folder itself), then, with a
 * daemon serving the folder, against `cloudbridge sync` asking it (its watcher knows nothing changed), then
 * (after those rounds) a sync with one file changed just before, through the daemon. The CLI runs as people run it, through
 * `bin/cloudbridge` (Node's compile cache on, warmed by the first round).
 *
 * Run under the bench lock: `flock /tmp/cloudbridge-bench.lock npm run bench:sync-noop`; BENCH_SIZES (files,
 * comma-separated, default 10000; the figures in docs/performance.md: 10000,50000), BENCH_ROUNDS (default 7);
 * BENCH_BASELINE=<another checkout, dependencies installed> runs that checkout's `bin/cloudbridge sync` with no
 * daemon on the same folder in the same rounds (before and after side by side); BENCH_NO_DAEMON=1 measures the
 * sync with no daemon only.
 */
import { execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { cp, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { GIT_ENV } from "../test/helpers/git.ts";
import { cloudbridge, daemon, median, startCloudProcess, stopChild } from "./agent-common.ts";

const SIZES = (process.env.BENCH_SIZES ?? "10000").split(",").map(Number);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7);
const BIN = fileURLToPath(new URL("../bin/cloudbridge", import.meta.url));
const BASELINE_BIN = process.env.BENCH_BASELINE ? join(process.env.BENCH_BASELINE, "bin/cloudbridge") : undefined;
const NO_DAEMON_ONLY = process.env.BENCH_NO_DAEMON === "1";

const timed = async (what: () => Promise<unknown> | unknown): Promise<number> => {
  const start = performance.now();
  await what();
  return performance.now() - start;
};

/** `bin/cloudbridge ARGS`, output dropped; rejects on a non-zero exit. */
const run = (args: string[], env: Record<string, string>, bin = BIN) =>
  new Promise<void>((ok, fail) => {
    const child = spawn(bin, args, { env: { ...process.env, ...env }, stdio: ["ignore", "ignore", "inherit"] });
    child.once("exit", (code) => (code === 0 ? ok() : fail(new Error(`cloudbridge ${args.join(" ")} exited ${code}`))));
  });

/**
 * A command through bash, which reports its CPU time (user + system, its children's included, to the
 * millisecond) with `times`: what the machine's load changes much less than wall time. Output dropped;
 * rejects on a non-zero exit.
 */
const measured = (command: string[], env: Record<string, string>, cwd?: string) =>
  new Promise<{ ms: number; cpuMs: number }>((ok, fail) => {
    const start = performance.now();
    const child = spawn("bash", ["-c", '"$@" >/dev/null; s=$?; times >&2; exit $s', "bash", ...command], {
      env: { ...process.env, ...env },
      stdio: ["ignore", "ignore", "pipe"],
      ...(cwd ? { cwd } : {}),
    });
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.once("exit", (code) => {
      const ms = performance.now() - start;
      // `times` prints the shell's own user and system time, then its children's: the command's.
      const times = /(\d+)m([\d.]+)s (\d+)m([\d.]+)s\s*$/.exec(stderr);
      if (code !== 0 || !times) return fail(new Error(`${command.join(" ")} exited ${code}: ${stderr}`));
      ok({ ms, cpuMs: (Number(times[1]) * 60 + Number(times[2]) + Number(times[3]) * 60 + Number(times[4])) * 1000 });
    });
  });

const cloud = await startCloudProcess();
const rows: string[] = [];
try {
  for (const files of SIZES) {
    const root = await mkdtemp(join(tmpdir(), "cb-bench-noop-"));
    try {
      const source = join(root, "source");
      for (let d = 0; d < 100; d += 1) {
        await mkdir(join(source, `dir-${d}`), { recursive: true });
        await Promise.all(
          Array.from({ length: files / 100 }, (_, f) =>
            writeFile(join(source, `dir-${d}`, `file-${f}.txt`), randomBytes(512).toString("hex")),
          ),
        );
      }
      const plain = join(root, "git");
      await cp(source, plain, { recursive: true });
      const git = (...args: string[]) =>
        execFileSync("git", args, { cwd: plain, env: { ...process.env, ...GIT_ENV }, stdio: ["ignore", "ignore", "inherit"] });
      git("init", "--quiet", "-b", "main");
      git("add", "-A");
      git("commit", "--quiet", "-m", "import");
      const folder = join(root, "cloudbridge");
      await cp(source, folder, { recursive: true });
      const env = { ...cloud.env, ...GIT_ENV };
      await cloudbridge(["init", folder, "--remote", `s3://cloudbridge/noop-${files}`, "--json"], env, { quiet: true });

      // A warm-up of each (page cache, Node's compile cache), not counted.
      git("status", "--porcelain");
      await run(["sync", folder, "--json"], env);
      if (BASELINE_BIN) await run(["sync", folder, "--json"], env, BASELINE_BIN);
      const status: { ms: number; cpuMs: number }[] = [];
      const alone: { ms: number; cpuMs: number }[] = [];
      const baseline: { ms: number; cpuMs: number }[] = [];
      for (let round = 0; round < ROUNDS; round += 1) {
        status.push(await measured(["git", "status", "--porcelain"], GIT_ENV, plain));
        alone.push(await measured([BIN, "sync", folder, "--json"], env));
        if (BASELINE_BIN) baseline.push(await measured([BASELINE_BIN, "sync", folder, "--json"], env));
      }
      const s = (ms: number) => `${Math.round(ms)} ms`;
      const n = files.toLocaleString("en");
      const wall = (samples: { ms: number }[]) => median(samples.map((sample) => sample.ms));
      const cpu = (samples: { cpuMs: number }[]) => median(samples.map((sample) => sample.cpuMs));
      const both = (samples: { ms: number; cpuMs: number }[]) => `${s(wall(samples))} (CPU ${s(cpu(samples))})`;
      const ratios = (samples: { ms: number; cpuMs: number }[], base: { ms: number; cpuMs: number }[]) =>
        `${(wall(samples) / wall(base)).toFixed(2)} (CPU ${(cpu(samples) / cpu(base)).toFixed(2)})`;
      rows.push(
        `| ${n} | nothing changed, no daemon: cloudbridge sync / git status | ${both(alone)} | ${both(status)} | **${ratios(alone, status)}** |`,
      );
      if (BASELINE_BIN)
        rows.push(
          `| ${n} | the same, ${process.env.BENCH_BASELINE}'s cloudbridge sync / git status | ${both(baseline)} | ${both(status)} | ${ratios(baseline, status)}; this one / it: ${ratios(alone, baseline)} |`,
        );
      if (NO_DAEMON_ONLY) continue;

      const served = daemon(folder, env, ["--ui-port", "off", "--reconcile-interval", "3600"], [BIN]);
      try {
        await served.ready;
        await run(["sync", folder, "--json"], env);
        const statusBeside: number[] = [];
        const asked: number[] = [];
        const oneChanged: number[] = [];
        for (let round = 0; round < ROUNDS; round += 1) {
          statusBeside.push(await timed(() => git("status", "--porcelain")));
          asked.push(await timed(() => run(["sync", folder, "--json"], env)));
        }
        // After the no-op rounds: a change leaves the daemon work of its own (its round, the push heard back),
        // which a no-op sync asked right after it would wait for.
        const statusChanged: number[] = [];
        for (let round = 0; round < ROUNDS; round += 1) {
          statusChanged.push(await timed(() => git("status", "--porcelain")));
          await writeFile(join(folder, "dir-7", "file-3.txt"), `changed ${round}\n`);
          oneChanged.push(await timed(() => run(["sync", folder, "--json"], env)));
        }
        const nodeAlone: number[] = [];
        for (let round = 0; round < ROUNDS; round += 1)
          nodeAlone.push(await timed(() => execFileSync(process.execPath, ["-e", "0"], { stdio: "ignore" })));

        rows.push(
          `| ${n} | nothing changed, daemon running: cloudbridge sync / git status | ${s(median(asked))} | ${s(median(statusBeside))} | **${(median(asked) / median(statusBeside)).toFixed(2)}** |`,
          `| ${n} | one file changed just before, daemon running: cloudbridge sync / git status | ${s(median(oneChanged))} | ${s(median(statusChanged))} | ${(median(oneChanged) / median(statusChanged)).toFixed(2)} |`,
          `| ${n} | (Node on an empty script, in every CLI figure) | ${s(median(nodeAlone))} | | |`,
        );
      } finally {
        await stopChild(served.child);
      }
    } finally {
      // git's housekeeping may still be packing in the background (as after any git commit): retry the removal.
      await rm(root, { recursive: true, force: true, maxRetries: 20, retryDelay: 500 });
    }
  }
} finally {
  await cloud.stop();
}
process.stdout.write(
  [
    `files of 1 KiB in 100 directories; medians of ${ROUNDS} interleaved rounds; git status in a plain repository of the same files`,
    "",
    "| files | operation | cloudbridge | git status | ratio |",
    "|---|---|---|---|---|",
    ...rows,
    "",
  ].join("\n"),
);
