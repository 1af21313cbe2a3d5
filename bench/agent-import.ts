/**
 * A folder of BENCH_FILES files of 1 KiB (100 directories), against native git on the same files in the
 * same run: the import, `cloudbridge init` (scan, hash, commit, pack, upload, refs, location logs) against
 * `git add -A && git commit && git push` to a local bare repository; then `cloudbridge sync` with nothing
 * changed against `git status` in the native repository (interleaved rounds, medians), and a sync with one
 * file changed. Run: `npm run bench:agent-import` (10,000 files); BENCH_FILES=100000 for the figures in
 * docs/performance.md; BENCH_ROUNDS (no-op rounds, default 5).
 */
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { cp, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GIT_ENV } from "../test/helpers/git.ts";
import { cloudbridge, percentile, startCloudProcess } from "./agent-common.ts";

const FILES = Number(process.env.BENCH_FILES ?? 10_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const root = await mkdtemp(join(tmpdir(), "cb-bench-import-"));
const cloud = await startCloudProcess();
try {
  const source = join(root, "source");
  for (let d = 0; d < 100; d += 1) {
    await mkdir(join(source, `dir-${d}`), { recursive: true });
    await Promise.all(
      Array.from({ length: FILES / 100 }, (_, f) => writeFile(join(source, `dir-${d}`, `file-${f}.txt`), randomBytes(512).toString("hex"))),
    );
  }
  const timed = async (what: () => Promise<unknown> | unknown) => {
    const start = performance.now();
    await what();
    return performance.now() - start;
  };

  const gitDir = join(root, "git");
  await cp(source, gitDir, { recursive: true });
  const bare = join(root, "bare.git");
  execFileSync("git", ["init", "--quiet", "--bare", bare]);
  const git = (...args: string[]) =>
    execFileSync("git", args, { cwd: gitDir, env: { ...process.env, ...GIT_ENV }, stdio: ["ignore", "ignore", "inherit"] });
  const folder = join(root, "cloudbridge");
  await cp(source, folder, { recursive: true });
  const env = { ...cloud.env, ...GIT_ENV };

  const nativeMs = await timed(() => {
    git("init", "--quiet", "-b", "main");
    git("add", "-A");
    git("commit", "--quiet", "-m", "import");
    git("push", "--quiet", bare, "main");
  });
  const initMs = await timed(() => cloudbridge(["init", folder, "--remote", "s3://cloudbridge/import", "--json"], env, { quiet: true }));

  const statusMs: number[] = [];
  const idleMs: number[] = [];
  for (let round = 0; round < ROUNDS; round += 1) {
    statusMs.push(await timed(() => git("status", "--porcelain")));
    idleMs.push(await timed(() => cloudbridge(["sync", folder, "--json"], env, { quiet: true })));
  }
  await writeFile(join(folder, "dir-7", "file-3.txt"), "changed\n");
  const oneMs = await timed(() => cloudbridge(["sync", folder, "--json"], env, { quiet: true }));
  const versionMs: number[] = [];
  for (let round = 0; round < ROUNDS; round += 1) versionMs.push(await timed(() => cloudbridge(["--version"], env, { quiet: true })));

  const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
  const status = percentile(statusMs, 50);
  const idle = percentile(idleMs, 50);
  process.stdout.write(
    [
      `${FILES.toLocaleString("en")} files of 1 KiB (100 directories), same files, same run; no-op figures: medians of ${ROUNDS} interleaved rounds`,
      "",
      "| operation | cloudbridge | native git | ratio |",
      "|---|---|---|---|",
      `| import: cloudbridge init (to cloudbridge local over HTTP) / git add -A && git commit && git push (local bare repo) | ${s(initMs)} | ${s(nativeMs)} | ${(initMs / nativeMs).toFixed(2)} |`,
      `| nothing changed: cloudbridge sync / git status | ${s(idle)} | ${s(status)} | ${(idle / status).toFixed(1)} |`,
      `| one file changed: cloudbridge sync | ${s(oneMs)} | | |`,
      `| (cloudbridge --version: Node start-up, in each CLI figure) | ${s(percentile(versionMs, 50))} | | |`,
      "",
    ].join("\n"),
  );
} finally {
  await cloud.stop();
  // git's housekeeping may still be packing in the background (as after any git commit): retry the removal.
  await rm(root, { recursive: true, force: true, maxRetries: 20, retryDelay: 500 });
}
