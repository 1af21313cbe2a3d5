/**
 * Importing a folder of 10,000 files of 1 KiB (100 directories): `cloudbridge init` (scan, hash, commit,
 * pack, upload, refs, location logs) against `git add -A && git commit && git push` to a local bare
 * repository, on the same files in the same run; then `cloudbridge sync` of the imported folder with one
 * file changed (what the stat cache saves). Run: `npm run bench:agent-import` (BENCH_FILES to scale).
 */
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { cp, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GIT_ENV } from "../test/helpers/git.ts";
import { cloudbridge, startCloudProcess } from "./agent-common.ts";

const FILES = Number(process.env.BENCH_FILES ?? 10_000);
const root = await mkdtemp(join(tmpdir(), "cb-bench-import-"));
const cloud = await startCloudProcess();
try {
  const source = join(root, "source");
  for (let d = 0; d < 100; d += 1) {
    await mkdir(join(source, `dir-${d}`), { recursive: true });
    for (let f = 0; f < FILES / 100; f += 1) await writeFile(join(source, `dir-${d}`, `file-${f}.txt`), randomBytes(512).toString("hex"));
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
  const nativeMs = await timed(() => {
    git("init", "--quiet", "-b", "main");
    git("add", "-A");
    git("commit", "--quiet", "-m", "import");
    git("push", "--quiet", bare, "main");
  });

  const folder = join(root, "cloudbridge");
  await cp(source, folder, { recursive: true });
  const env = { ...cloud.env, ...GIT_ENV };
  const initMs = await timed(() => cloudbridge(["init", folder, "--remote", "s3://cloudbridge/import", "--json"], env, { quiet: true }));
  const idleMs = await timed(() => cloudbridge(["sync", folder, "--json"], env, { quiet: true }));
  await writeFile(join(folder, "dir-7", "file-3.txt"), "changed\n");
  const oneMs = await timed(() => cloudbridge(["sync", folder, "--json"], env, { quiet: true }));
  const nodeStartMs = await timed(() => cloudbridge(["--version"], env, { quiet: true }));

  const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
  process.stdout.write(
    [
      `Import of ${FILES.toLocaleString("en")} files of 1 KiB (100 directories), same files, same run`,
      "",
      "| operation | time | ratio |",
      "|---|---|---|",
      `| git add -A && git commit && git push (local bare repo) | ${s(nativeMs)} | 1.0 |`,
      `| cloudbridge init (to cloudbridge local over HTTP) | ${s(initMs)} | ${(initMs / nativeMs).toFixed(2)} |`,
      `| cloudbridge sync, nothing changed (stat cache) | ${s(idleMs)} | |`,
      `| cloudbridge sync, one file changed | ${s(oneMs)} | |`,
      `| (cloudbridge --version: Node start-up in each CLI figure) | ${s(nodeStartMs)} | |`,
      "",
    ].join("\n"),
  );
} finally {
  await cloud.stop();
  await rm(root, { recursive: true, force: true });
}
