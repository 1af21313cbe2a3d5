/**
 * Bytes of a compacted repository against a native clone of the same history: PUSHES one-file pushes
 * (each edits a few lines of one of FILES text files, as a folder being worked on does) go to the local
 * cloud with gitstore's push, one pack each; the bucket's copy of the repository is then compacted once
 * with native git (the agent's engine), once with the isomorphic engine (the Lambda's: isomorphic-git
 * reads the packs, gitstore/delta-pack.ts writes the combined one with deltas) and once as native
 * compaction was before paths were given to pack-objects (the baseline for the time), and the pack bytes a
 * clone downloads are compared with the pack `git clone` receives from the writing repository.
 *
 *   npm run bench:compaction-size                  # 200 pushes
 *   BENCH_PUSHES=1000 npm run bench:compaction-size
 *   BENCH_FILES=200 BENCH_FILE_LINES=120 ...        # the files the pushes edit
 */
import { randomUUID } from "node:crypto";
import { mkdir, mkdtemp, readdir, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { compactRepository, NativeGitEngine, push, readInfoPacks, type GitEngine } from "../gitstore/index.ts";
import { IsomorphicGitEngine } from "../gitstore/isomorphic-engine.ts";
import { startLocalCloud } from "../local/cloud.ts";
import { createS3Client, S3ObjectStore, type ObjectStore } from "../objectstore/index.ts";
import { BucketLayout } from "../protocol/index.ts";
import { runGit } from "../localgit/index.ts";
import { git, initRepo } from "../test/helpers/git.ts";

const pushes = Number(process.env.BENCH_PUSHES ?? 200);
const files = Number(process.env.BENCH_FILES ?? 100);
const linesPerFile = Number(process.env.BENCH_FILE_LINES ?? 80);
const layout = new BucketLayout("bench");

/** A deterministic stream of pseudo-random numbers (the same history every run). */
function generator(seed: number) {
  let state = seed;
  return () => {
    state = (state * 1103515245 + 12345) & 0x7fffffff;
    return state;
  };
}
const random = generator(13);
const words = ["alpha", "bridge", "cloud", "delta", "engine", "folder", "git", "history", "index", "journal", "kernel", "ledger"];
const line = () => Array.from({ length: 8 }, () => words[random() % words.length]).join(" ") + ` ${random()}`;

async function packBytes(store: ObjectStore, repo: string): Promise<{ packs: number; bytes: number }> {
  const live = await readInfoPacks(store, layout, repo);
  let bytes = 0;
  for (const name of live) bytes += (await store.head(layout.pack(repo, `${name}.pack`)))?.size ?? 0;
  return { packs: live.length, bytes };
}

async function copyRepository(store: ObjectStore, from: string, to: string): Promise<void> {
  const root = layout.repoRoot(from);
  for await (const info of store.list(root)) {
    const object = await store.get(info.key);
    if (!object || object === "not-modified") throw new Error(`${info.key} was listed but cannot be read`);
    await store.put(`${layout.repoRoot(to)}${info.key.slice(root.length)}`, object.body);
  }
}

/** The baseline: compaction as it was, every object by its id only and the push packs' deltas reused. */
class ObjectIdsOnlyEngine extends NativeGitEngine {
  protected override readonly combineOptions: readonly string[] = [];
  protected override async combineInput(gitDir: string): Promise<Buffer> {
    return (await runGit(["cat-file", "--batch-all-objects", "--batch-check=%(objectname)"], { gitDir })).stdout;
  }
}

const cloud = await startLocalCloud({ port: 0 });
const work = await mkdtemp(join(tmpdir(), "cloudbridge-bench-compaction-size-"));
try {
  Object.assign(process.env, cloud.env);
  const store = new S3ObjectStore(cloud.bucket, createS3Client());
  const dir = join(work, "writer");
  await mkdir(join(dir, "notes"), { recursive: true });
  const gitDir = await initRepo(dir);
  const contents = Array.from({ length: files }, () => Array.from({ length: linesPerFile }, line));
  const agent = randomUUID();
  const started = performance.now();
  for (let p = 0; p < pushes; p++) {
    if (p === 0) {
      for (let f = 0; f < files; f++) await writeFile(join(dir, `notes/file-${f}.txt`), contents[f]!.join("\n") + "\n");
    } else {
      // A few lines of one file change: what a person editing a document saves.
      const f = random() % files;
      for (let edit = 0; edit < 3; edit++) contents[f]![random() % linesPerFile] = line();
      await writeFile(join(dir, `notes/file-${f}.txt`), contents[f]!.join("\n") + "\n");
    }
    await git(dir, "add", "-A");
    await git(dir, "commit", "-q", "-m", `push ${p}`);
    const oid = await git(dir, "rev-parse", "HEAD");
    // One pack per push (pushes now fold small packs into their own; this measures compaction of many).
    await push({ gitDir, store, layout, repo: "native", agent, updates: [{ ref: "refs/heads/main", oid }], foldPacks: false });
  }
  const pushSeconds = (performance.now() - started) / 1000;
  await copyRepository(store, "native", "isomorphic");
  await copyRepository(store, "native", "ids-only");
  const before = await packBytes(store, "native");

  // The native baseline: the pack `git clone` receives from the writing repository.
  const clone = join(work, "clone.git");
  await git(work, "clone", "-q", "--bare", "--no-local", dir, clone);
  const clonePacks = (await readdir(join(clone, "objects", "pack"))).filter((name) => name.endsWith(".pack"));
  let nativeBytes = 0;
  for (const name of clonePacks) nativeBytes += (await stat(join(clone, "objects", "pack", name))).size;

  const compact = async (repo: string, engine: GitEngine) => {
    const t0 = performance.now();
    const report = await compactRepository({ store, layout, repo, engine, graceMs: 0, workDir: work });
    const seconds = (performance.now() - t0) / 1000;
    return { report, seconds, ...(await packBytes(store, repo)) };
  };
  const idsOnly = await compact("ids-only", new ObjectIdsOnlyEngine());
  const native = await compact("native", new NativeGitEngine());
  const isomorphic = await compact("isomorphic", new IsomorphicGitEngine());

  const kib = (bytes: number) => `${(bytes / 1024).toFixed(1)} KiB`;
  console.log(`${pushes} one-file pushes (${files} files of ${linesPerFile} lines) in ${pushSeconds.toFixed(1)} s`);
  console.log(`native git clone pack:                 ${kib(nativeBytes)}  (baseline)`);
  console.log(`uncompacted bucket (${before.packs} packs):       ${kib(before.bytes)}  ${(before.bytes / nativeBytes).toFixed(2)}×`);
  for (const [name, run] of [
    ["native, ids only (before)", idsOnly],
    ["native engine", native],
    ["isomorphic engine", isomorphic],
  ] as const) {
    console.log(
      `compacted, ${name.padEnd(26)} ${kib(run.bytes)}  ${(run.bytes / nativeBytes).toFixed(2)}×  (${run.report.merged.length} packs merged into ${run.packs}, ${run.seconds.toFixed(2)} s)`,
    );
  }
} finally {
  await cloud.stop();
  await rm(work, { recursive: true, force: true });
}
