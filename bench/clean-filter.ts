/**
 * The clean filter costs a scan nothing: a scan of many small files (every file's times changed, so every
 * one is hashed again) with the folder's clean filter registered, against the same scan with it removed,
 * in interleaved rounds (medians). The scan hashes with `hash-object --no-filters`, so git never starts
 * the filter for it. For reference, what a person's plain `git status` costs: over an index without stat
 * information (a new clone: git looks at every file, through the filter when it is registered), then the
 * next one (git recorded the stat information, and the agent's rounds keep it). Run: `node --disable-warning=ExperimentalWarning bench/clean-filter.ts` (BENCH_FILES, BENCH_ROUNDS).
 */
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, rm, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { registerCleanFilter } from "../agent/git-filter/register.ts";
import { LocalRepo } from "../agent/sync/local-repo.ts";
import { GIT_ENV } from "../test/helpers/git.ts";

const FILES = Number(process.env.BENCH_FILES ?? 5_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const root = await mkdtemp(join(tmpdir(), "cb-bench-filter-"));
Object.assign(process.env, GIT_ENV);
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const git = (...args: string[]) => execFileSync("git", args, { cwd: root, env: process.env, stdio: ["ignore", "pipe", "ignore"] });

try {
  const paths: string[] = [];
  for (let d = 0; d < 50; d += 1) {
    await mkdir(join(root, `dir-${d}`), { recursive: true });
    for (let f = 0; f < FILES / 50; f += 1) {
      const path = join(root, `dir-${d}`, `file-${f}.txt`);
      await writeFile(path, randomBytes(256).toString("hex"));
      paths.push(path);
    }
  }
  await LocalRepo.create(root);
  const repo = await new LocalRepo(root).open();
  await repo.commitChanges();
  const unregister = async () => {
    if (git("config", "--list").includes("filter.cloudbridge.process")) git("config", "--unset", "filter.cloudbridge.process");
    await rm(join(root, ".git", "info", "attributes"), { force: true });
  };
  const scans: Record<"with" | "without", number[]> = { with: [], without: [] };
  const statuses: Record<"with" | "without", number[]> = { with: [], without: [] };
  const again: Record<"with" | "without", number[]> = { with: [], without: [] };
  let clock = Date.now() / 1000 - 3600;
  for (let round = 0; round < ROUNDS; round += 1) {
    for (const variant of round % 2 === 0 ? (["with", "without"] as const) : (["without", "with"] as const)) {
      if (variant === "with") await registerCleanFilter(join(root, ".git"));
      else await unregister();
      clock += 60;
      for (const path of paths) await utimes(path, clock, clock);
      const started = performance.now();
      const { scan } = await repo.commitChanges();
      scans[variant].push(performance.now() - started);
      if (scan.hashed !== FILES) throw new Error(`the scan hashed ${scan.hashed} files, not ${FILES}`);
      git("read-tree", "HEAD");
      const before = performance.now();
      git("status", "--porcelain");
      statuses[variant].push(performance.now() - before);
      // git status recorded the files' stat information; the agent's rounds keep it (read-tree --reset).
      const next = performance.now();
      git("status", "--porcelain");
      again[variant].push(performance.now() - next);
    }
  }
  const ms = (v: number) => `${v.toFixed(0)} ms`;
  console.log(`${FILES} small files, every one hashed again; ${ROUNDS} interleaved rounds, medians\n`);
  console.log("| | filter registered | no filter | ratio |\n|---|---|---|---|");
  console.log(
    `| agent's scan | ${ms(median(scans.with))} | ${ms(median(scans.without))} | ${(median(scans.with) / median(scans.without)).toFixed(2)} |`,
  );
  console.log(
    `| plain \`git status\` over an index without stat information (a new clone) | ${ms(median(statuses.with))} | ${ms(median(statuses.without))} | ${(median(statuses.with) / median(statuses.without)).toFixed(2)} |`,
  );
  console.log(
    `| the next plain \`git status\` | ${ms(median(again.with))} | ${ms(median(again.without))} | ${(median(again.with) / median(again.without)).toFixed(2)} |`,
  );
} finally {
  await rm(root, { recursive: true, force: true });
}
