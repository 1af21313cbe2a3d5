/**
 * Checking out one large plain (non-annexed) file: the agent's checkout (agent/sync/checkout.ts, which
 * reads blobs through one `git cat-file --batch`) against `git checkout` of the same commit, for 16, 64
 * and 128 MiB (BENCH_SIZES_MIB to change). The time must grow in proportion to the size: the run fails
 * when 4× the bytes cost more than 8× the time. Run: `node --disable-warning=ExperimentalWarning bench/checkout-large-file.ts`.
 */
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LocalRepo } from "../agent/sync/local-repo.ts";
import { GIT_ENV } from "../test/helpers/git.ts";

const SIZES = (process.env.BENCH_SIZES_MIB ?? "16,64,128").split(",").map(Number);
const root = await mkdtemp(join(tmpdir(), "cb-bench-checkout-"));
const git = (cwd: string, ...args: string[]) =>
  execFileSync("git", args, { cwd, env: { ...process.env, ...GIT_ENV }, stdio: ["ignore", "pipe", "inherit"] })
    .toString()
    .trim();
const rows: Array<{ mib: number; agentMs: number; gitMs: number }> = [];
try {
  for (const mib of SIZES) {
    const source = join(root, `source-${mib}`);
    git(root, "init", "--quiet", "-b", "main", source);
    await writeFile(join(source, "plain.bin"), randomBytes(mib * 1024 * 1024));
    git(source, "add", "plain.bin");
    git(source, "commit", "--quiet", "-m", "plain");
    const commit = git(source, "rev-parse", "HEAD");

    const target = join(root, `agent-${mib}`);
    await LocalRepo.create(target);
    git(target, "fetch", "--quiet", source, "main");
    const repo = await new LocalRepo(target).open();
    let start = performance.now();
    await repo.checkout(commit);
    const agentMs = performance.now() - start;

    const plain = join(root, `git-${mib}`);
    git(root, "init", "--quiet", "-b", "main", plain);
    git(plain, "fetch", "--quiet", source, "main");
    start = performance.now();
    git(plain, "checkout", "--quiet", commit);
    const gitMs = performance.now() - start;
    rows.push({ mib, agentMs, gitMs });
    console.error(`${mib} MiB: agent ${agentMs.toFixed(0)} ms, git checkout ${gitMs.toFixed(0)} ms`);
  }
} finally {
  await rm(root, { recursive: true, force: true });
}
console.log("| size | agent checkout | git checkout | agent / git |");
console.log("|---:|---:|---:|---:|");
for (const r of rows) {
  console.log(`| ${r.mib} MiB | ${r.agentMs.toFixed(0)} ms | ${r.gitMs.toFixed(0)} ms | ${(r.agentMs / r.gitMs).toFixed(1)}× |`);
}
const first = rows[0]!;
const last = rows.at(-1)!;
const growth = last.agentMs / first.agentMs / (last.mib / first.mib);
console.log(`time per byte, ${last.mib} MiB vs ${first.mib} MiB: ${growth.toFixed(2)}× (1 = linear)`);
if (growth > 2) {
  console.error("FAIL: checkout time grows faster than the size");
  process.exitCode = 1;
}
