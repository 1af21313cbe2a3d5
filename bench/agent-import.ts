/**
 * A folder of BENCH_FILES files of 1 KiB (100 directories), against native git on the same files in the
 * same run: the import, `cloudbridge init` (scan, hash, commit, pack, upload, refs, location logs) against
 * `git add -A && git commit && git push` to a local bare repository, in BENCH_IMPORT_ROUNDS interleaved
 * rounds (default 3) on fresh copies, then the loose objects each leaves and the `git gc --auto` that packs
 * them; then `cloudbridge sync` with nothing changed against `git status` in the native repository
 * (interleaved rounds, medians), and a sync with one file changed. Run: `npm run bench:agent-import`
 * (10,000 files); BENCH_FILES=50000 and 100000 for the figures in docs/performance.md; BENCH_ROUNDS
 * (no-op rounds, default 5).
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
const IMPORT_ROUNDS = Number(process.env.BENCH_IMPORT_ROUNDS ?? 3);
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
  const nativeGit = (cwd: string, ...args: string[]) =>
    execFileSync("git", args, { cwd, env: { ...process.env, ...GIT_ENV }, stdio: ["ignore", "pipe", "inherit"] });
  const timed = async (what: () => Promise<unknown> | unknown) => {
    const start = performance.now();
    await what();
    return performance.now() - start;
  };

  // The import, in interleaved rounds (which goes first alternates), each on fresh copies of the same files.
  // git's own housekeeping is kept out of its timed run (`gc.auto=0`: a detached `gc` after the commit would
  // pack in the background while the next command is timed); what is left to pack is measured after.
  const env = { ...cloud.env, ...GIT_ENV };
  const nativeImportMs: number[] = [];
  const initMs: number[] = [];
  let gitDir = "";
  let folder = "";
  for (let round = 0; round < IMPORT_ROUNDS; round += 1) {
    await rm(gitDir || join(root, "none"), { recursive: true, force: true, maxRetries: 20, retryDelay: 500 });
    await rm(folder || join(root, "none"), { recursive: true, force: true });
    gitDir = join(root, `git-${round}`);
    folder = join(root, `cloudbridge-${round}`);
    await cp(source, gitDir, { recursive: true });
    await cp(source, folder, { recursive: true });
    const bare = join(root, `bare-${round}.git`);
    execFileSync("git", ["init", "--quiet", "--bare", bare]);
    const native = () =>
      timed(() => {
        nativeGit(gitDir, "init", "--quiet", "-b", "main");
        nativeGit(gitDir, "add", "-A");
        nativeGit(gitDir, "-c", "gc.auto=0", "commit", "--quiet", "-m", "import");
        nativeGit(gitDir, "push", "--quiet", bare, "main");
      });
    const ours = () =>
      timed(() => cloudbridge(["init", folder, "--remote", `s3://cloudbridge/import-${round}`, "--json"], env, { quiet: true }));
    if (round % 2 === 0) {
      nativeImportMs.push(await native());
      initMs.push(await ours());
    } else {
      initMs.push(await ours());
      nativeImportMs.push(await native());
    }
    await rm(bare, { recursive: true, force: true });
  }
  // What the import leaves for git's housekeeping: loose objects, and the `gc --auto` that packs them (the
  // agent runs it after a round whose fetch brought packs; git after a commit, detached).
  const looseObjects = (dir: string) => Number(/^count: (\d+)$/m.exec(nativeGit(dir, "count-objects", "-v").toString())![1]);
  const gcAuto = (dir: string) => timed(() => nativeGit(dir, "-c", "gc.autoDetach=false", "gc", "--auto", "--quiet"));
  const looseAfter = { cloudbridge: looseObjects(folder), git: looseObjects(gitDir) };
  const gcMs = { cloudbridge: await gcAuto(folder), git: await gcAuto(gitDir) };
  const git = (...args: string[]) => nativeGit(gitDir, ...args);

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
  const initMedian = percentile(initMs, 50);
  const nativeMedian = percentile(nativeImportMs, 50);
  const idle = percentile(idleMs, 50);
  process.stdout.write(
    [
      `${FILES.toLocaleString("en")} files of 1 KiB (100 directories), same files, same run; import: medians of ${IMPORT_ROUNDS} interleaved rounds; no-op figures: medians of ${ROUNDS} interleaved rounds`,
      "",
      "| operation | cloudbridge | native git | ratio |",
      "|---|---|---|---|",
      `| import: cloudbridge init (to cloudbridge local over HTTP) / git add -A && git commit && git push (local bare repo) | ${s(initMedian)} | ${s(nativeMedian)} | ${(initMedian / nativeMedian).toFixed(2)} |`,
      `| (each round: cloudbridge / git) | ${initMs.map(s).join(", ")} | ${nativeImportMs.map(s).join(", ")} | |`,
      `| loose objects left by the import | ${looseAfter.cloudbridge.toLocaleString("en")} | ${looseAfter.git.toLocaleString("en")} | |`,
      `| then git gc --auto (what the next fetch round runs; git runs it detached after a commit) | ${s(gcMs.cloudbridge)} | ${s(gcMs.git)} | |`,
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
