/**
 * Peak memory of compaction with the isomorphic engine (what the Lambda function runs), for a large
 * repository: PACKS pushes of MIB_PER_PACK MiB of incompressible files each, against the local cloud,
 * compacted in a fresh child process whose peak RSS is read back — once with no bound and once with the
 * function's bound (a quarter of its 2,048 MB).
 *
 *   npm run bench:compaction-memory            # 4 packs × 64 MiB
 *   PACKS=8 MIB_PER_PACK=32 npm run bench:compaction-memory
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { randomBytes, randomUUID } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { compactRepository, push } from "../gitstore/index.ts";
import { IsomorphicGitEngine } from "../gitstore/isomorphic-engine.ts";
import { startLocalCloud } from "../local/cloud.ts";
import { createS3Client, S3ObjectStore } from "../objectstore/index.ts";
import { BucketLayout } from "../protocol/index.ts";
import { git, initRepo } from "../test/helpers/git.ts";

const layout = new BucketLayout("bench");

if (process.argv[2] === "--compact") {
  // The child: one compaction, then its peak RSS on stdout.
  const store = new S3ObjectStore(process.env.BENCH_BUCKET!, createS3Client());
  const maxMergeBytes = process.env.BENCH_MAX_MERGE_BYTES ? Number(process.env.BENCH_MAX_MERGE_BYTES) : undefined;
  const started = performance.now();
  const report = await compactRepository({
    store,
    layout,
    repo: process.env.BENCH_REPO!,
    engine: new IsomorphicGitEngine(),
    graceMs: 0,
    maxMergeBytes,
  });
  const seconds = (performance.now() - started) / 1000;
  process.stdout.write(JSON.stringify({ merged: report.merged.length, seconds, maxRssMiB: process.resourceUsage().maxRSS / 1024 }) + "\n");
  process.exit(0);
}

const packs = Number(process.env.PACKS ?? 4);
const mibPerPack = Number(process.env.MIB_PER_PACK ?? 64);
const cloud = await startLocalCloud({ port: 0 });
const work = await mkdtemp(join(tmpdir(), "cloudbridge-bench-compaction-"));
try {
  Object.assign(process.env, cloud.env);
  const store = new S3ObjectStore(cloud.bucket, createS3Client());
  const seed = async (repo: string) => {
    const dir = await mkdtemp(join(work, "writer-"));
    const gitDir = await initRepo(dir);
    for (let p = 0; p < packs; p++) {
      for (let f = 0; f < mibPerPack / 8; f++) await writeFile(join(dir, `blob-${p}-${f}.bin`), randomBytes(8 * 1024 * 1024));
      await git(dir, "add", "-A");
      await git(dir, "commit", "-q", "-m", `pack ${p}`);
      const oid = await git(dir, "rev-parse", "HEAD");
      await push({ gitDir, store, layout, repo, agent: randomUUID(), updates: [{ ref: "refs/heads/main", oid }] });
    }
    await rm(dir, { recursive: true, force: true });
  };
  // Asynchronously: the local cloud answers the child from this process.
  const compact = async (repo: string, maxMergeBytes?: number) => {
    const child = await promisify(execFile)(
      process.execPath,
      ["--disable-warning=ExperimentalWarning", fileURLToPath(import.meta.url), "--compact"],
      {
        encoding: "utf8",
        maxBuffer: 1 << 20,
        env: {
          ...process.env,
          ...cloud.env,
          BENCH_BUCKET: cloud.bucket,
          BENCH_REPO: repo,
          ...(maxMergeBytes ? { BENCH_MAX_MERGE_BYTES: String(maxMergeBytes) } : {}),
        },
      },
    );
    return JSON.parse(child.stdout.trim().split("\n").at(-1)!) as { merged: number; seconds: number; maxRssMiB: number };
  };
  const total = packs * mibPerPack;
  await seed("large");
  const unbounded = await compact("large");
  console.log(
    `${packs} packs, ${total} MiB in all, no bound: merged ${unbounded.merged} packs in ${unbounded.seconds.toFixed(1)} s, peak RSS ${Math.round(unbounded.maxRssMiB)} MiB (${(unbounded.maxRssMiB / total).toFixed(2)} × the packs)`,
  );
  await seed("large-bounded");
  const bound = Math.floor(packs / 2) * mibPerPack * 1024 * 1024 + 1024 * 1024;
  const bounded = await compact("large-bounded", bound);
  console.log(
    `the same, bound ${Math.round(bound / 1048576)} MiB: merged ${bounded.merged} packs in ${bounded.seconds.toFixed(1)} s, peak RSS ${Math.round(bounded.maxRssMiB)} MiB`,
  );
} finally {
  await cloud.stop();
  await rm(work, { recursive: true, force: true });
}
