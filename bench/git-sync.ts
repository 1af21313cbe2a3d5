/**
 * Git through the bucket against native git, measured in one run on this machine (issue 3's benchmark):
 *  (a) initial push of 10,000 files of 1 KiB in 100 directories,
 *  (b) a one-file commit pushed on top (median of 5),
 *  (c) a fresh clone after 200 one-file pushes, before and after compaction.
 * Each cloudbridge figure is set against native git to a local bare repository (`git push` / `git clone`
 * of a path) and against the design of awslabs' git-remote-s3 (one full `git bundle` per push, one PUT).
 * cloudbridge local runs in its own process, as a real endpoint would.
 * Run: `npm run bench:git` (BENCH_FILES, BENCH_PUSHES to scale).
 */
import { spawn } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import type { Readable } from "node:stream";
import { S3Client } from "@aws-sdk/client-s3";
import type { ObjectStore, PutOptions, UploadOptions } from "../objectstore/object-store.ts";
import { S3ObjectStore } from "../objectstore/s3-object-store.ts";
import { BucketLayout } from "../protocol/layout.ts";
import { compactRepository } from "../gitstore/compaction.ts";
import { IsomorphicGitEngine } from "../gitstore/isomorphic-engine.ts";
import { NativeGitEngine } from "../gitstore/native-engine.ts";
import { gitText, runGit } from "../gitstore/run-git.ts";
import { fetchRefs } from "../agent/git/fetch.ts";
import { push } from "../agent/git/push.ts";

const FILES = Number(process.env.BENCH_FILES ?? 10_000);
const PUSHES = Number(process.env.BENCH_PUSHES ?? 200);
const ENV = {
  GIT_AUTHOR_NAME: "Bench",
  GIT_AUTHOR_EMAIL: "bench@example.com",
  GIT_COMMITTER_NAME: "Bench",
  GIT_COMMITTER_EMAIL: "bench@example.com",
  GIT_CONFIG_NOSYSTEM: "1",
  GIT_CONFIG_GLOBAL: "/dev/null",
};

/** Counts requests and bytes, as S3 would bill them. */
class CountingStore implements ObjectStore {
  readonly bucket: string;
  requests = 0;
  bytesUp = 0;
  bytesDown = 0;
  private readonly inner: ObjectStore;
  constructor(inner: ObjectStore) {
    this.inner = inner;
    this.bucket = inner.bucket;
  }
  reset() {
    this.requests = this.bytesUp = this.bytesDown = 0;
  }
  async get(key: string, options?: { ifNoneMatch?: string }) {
    this.requests++;
    const result = await this.inner.get(key, options);
    if (result && result !== "not-modified") this.bytesDown += result.size;
    return result;
  }
  async getStream(key: string, options?: { range?: { start: number; end: number } }) {
    this.requests++;
    const result = await this.inner.getStream(key, options);
    if (result) this.bytesDown += result.size;
    return result;
  }
  head(key: string) {
    this.requests++;
    return this.inner.head(key);
  }
  async *list(prefix: string) {
    this.requests++;
    let n = 0;
    for await (const info of this.inner.list(prefix)) {
      if (++n % 1000 === 0) this.requests++;
      yield info;
    }
  }
  listPrefixes(prefix: string) {
    this.requests++;
    return this.inner.listPrefixes(prefix);
  }
  put(key: string, body: Buffer | string, options?: PutOptions) {
    this.requests++;
    this.bytesUp += Buffer.byteLength(body);
    return this.inner.put(key, body, options);
  }
  upload(key: string, body: Readable | Buffer, options?: UploadOptions) {
    this.requests++;
    return this.inner.upload(key, body, { ...options, onProgress: (n) => (this.bytesUp = n) });
  }
  delete(key: string, options?: { ifMatch?: string }) {
    this.requests++;
    return this.inner.delete(key, options);
  }
}

const git = (cwd: string, ...args: string[]) => gitText(args, { cwd, env: ENV });
async function time<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const started = performance.now();
  const value = await fn();
  return { ms: performance.now() - started, value };
}
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const ms = (value: number) => `${value.toFixed(0)} ms`;
const kib = (bytes: number) => (bytes >= 1024 * 1024 ? `${(bytes / 1024 / 1024).toFixed(1)} MiB` : `${(bytes / 1024).toFixed(1)} KiB`);
const ratio = (a: number, b: number) => `${(a / b).toFixed(2)}×`;

// The cloud in its own process.
const cloudProcess = spawn(
  process.execPath,
  ["--disable-warning=ExperimentalWarning", "agent/cli/main.ts", "local", "--port", "0", "--json"],
  {
    stdio: ["ignore", "pipe", "inherit"],
  },
);
const info = JSON.parse(await new Promise<string>((ok) => createInterface({ input: cloudProcess.stdout! }).once("line", ok))) as {
  endpoint: string;
  bucket: string;
  env: Record<string, string>;
};
const s3 = new S3Client({
  region: info.env.AWS_REGION,
  endpoint: info.endpoint,
  forcePathStyle: true,
  credentials: { accessKeyId: info.env.AWS_ACCESS_KEY_ID!, secretAccessKey: info.env.AWS_SECRET_ACCESS_KEY! },
});
const raw = new S3ObjectStore(info.bucket, s3);
const store = new CountingStore(raw);
const layout = new BucketLayout();
const work = await mkdtemp(join(tmpdir(), "cloudbridge-bench-git-"));
const rows: string[][] = [];
const row = (...cells: string[]) => {
  rows.push(cells);
  console.log(`| ${cells.join(" | ")} |`);
};

try {
  console.log(
    `git ${(await gitText(["--version"])).replace("git version ", "")}, Node ${process.version}, ${FILES} files, ${PUSHES} pushes`,
  );
  const src = join(work, "src");
  await mkdir(src);
  await git(src, "init", "-q", "-b", "main");
  const lines: string[] = ["commit refs/heads/main", "committer Bench <bench@example.com> 1700000000 +0000", "data 7", "initial"];
  for (let i = 0; i < FILES; i++) {
    const content = randomBytes(512).toString("hex"); // 1 KiB that does not compress away
    lines.push(`M 100644 inline d${i % 100}/f${i}.txt`, `data ${content.length}`, content);
  }
  await runGit(["fast-import", "--quiet"], { cwd: src, env: ENV, input: `${lines.join("\n")}\n` });
  await git(src, "checkout", "-q", "main");
  const gitDir = join(src, ".git");
  const agent = randomUUID();
  const nativeRemote = join(work, "native.git");
  await git(work, "init", "-q", "--bare", "--initial-branch=main", nativeRemote);
  const bundleKey = (n: number) => `bench-bundles/main/${n}.bundle`;

  /** git-remote-s3's design: a full bundle of the branch, one PUT (and removal of the previous one). */
  async function bundlePush(n: number): Promise<{ ms: number; bytes: number }> {
    const file = join(work, "push.bundle");
    const { ms: elapsed, value: bytes } = await time(async () => {
      await git(src, "bundle", "create", "-q", file, "HEAD", "main");
      const body = await readFile(file);
      await raw.put(bundleKey(n), body);
      if (n > 0) await raw.delete(bundleKey(n - 1));
      return body.length;
    });
    return { ms: elapsed, bytes };
  }

  // (a) initial push
  const nativeInitial = await time(() => git(src, "push", "-q", nativeRemote, "main"));
  const head = await git(src, "rev-parse", "HEAD");
  store.reset();
  const initial = await time(() => push({ store, layout, repo: "bench", gitDir, agent, updates: [{ ref: "refs/heads/main", oid: head }] }));
  const initialRequests = store.requests;
  const initialBytes = store.bytesUp;
  const bundleInitial = await bundlePush(0);
  console.log("\n(a) initial push of", FILES, "files");
  row("", "time", "vs native git", "vs full bundle", "uploaded", "S3 requests");
  row("---", "---:", "---:", "---:", "---:", "---:");
  row("native git push (local bare repo)", ms(nativeInitial.ms), "1.00×", "", "", "");
  row(
    "cloudbridge push",
    ms(initial.ms),
    ratio(initial.ms, nativeInitial.ms),
    ratio(initial.ms, bundleInitial.ms),
    kib(initialBytes),
    String(initialRequests),
  );
  row(
    "full bundle + PUT (git-remote-s3 design)",
    ms(bundleInitial.ms),
    ratio(bundleInitial.ms, nativeInitial.ms),
    "1.00×",
    kib(bundleInitial.bytes),
    "1",
  );

  // (b) one-file commit on top, median of 5
  const nativeTimes: number[] = [];
  const ourTimes: number[] = [];
  const bundleTimes: number[] = [];
  let requests = 0;
  let bytes = 0;
  let bundleBytes = 0;
  for (let i = 0; i < 5; i++) {
    const file = join(src, "d7", "f7.txt");
    await writeFile(file, `edit ${i} ${randomBytes(500).toString("hex")}\n`);
    await git(src, "commit", "-q", "-am", `edit ${i}`);
    const oid = await git(src, "rev-parse", "HEAD");
    nativeTimes.push((await time(() => git(src, "push", "-q", nativeRemote, "main"))).ms);
    store.reset();
    ourTimes.push((await time(() => push({ store, layout, repo: "bench", gitDir, agent, updates: [{ ref: "refs/heads/main", oid }] }))).ms);
    requests = store.requests;
    bytes = store.bytesUp;
    const bundle = await bundlePush(i + 1);
    bundleTimes.push(bundle.ms);
    bundleBytes = bundle.bytes;
  }
  console.log("\n(b) one-file commit pushed on top (median of 5)");
  row("", "time", "vs native git", "vs full bundle", "uploaded", "S3 requests");
  row("---", "---:", "---:", "---:", "---:", "---:");
  row("native git push (local bare repo)", ms(median(nativeTimes)), "1.00×", "", "", "");
  row(
    "cloudbridge push",
    ms(median(ourTimes)),
    ratio(median(ourTimes), median(nativeTimes)),
    ratio(median(ourTimes), median(bundleTimes)),
    kib(bytes),
    String(requests),
  );
  row(
    "full bundle + PUT (git-remote-s3 design)",
    ms(median(bundleTimes)),
    ratio(median(bundleTimes), median(nativeTimes)),
    "1.00×",
    kib(bundleBytes),
    "2",
  );

  // (c) 200 one-file pushes, then fresh clones before and after compaction
  const pushTimes: number[] = [];
  const nativePushTimes: number[] = [];
  for (let i = 0; i < PUSHES; i++) {
    await writeFile(join(src, `d${i % 100}`, `f${i % 100}.txt`), `push ${i} ${randomBytes(500).toString("hex")}\n`);
    await git(src, "commit", "-q", "-am", `push ${i}`);
    const oid = await git(src, "rev-parse", "HEAD");
    nativePushTimes.push((await time(() => git(src, "push", "-q", nativeRemote, "main"))).ms);
    pushTimes.push(
      (await time(() => push({ store: raw, layout, repo: "bench", gitDir, agent, updates: [{ ref: "refs/heads/main", oid }] }))).ms,
    );
  }
  const finalBundle = await bundlePush(1000);

  async function clones(label: string) {
    const nativeDir = join(work, `native-clone-${label}`);
    const nativeClone = await time(() => git(work, "clone", "-q", nativeRemote, nativeDir));
    const ourDir = join(work, `our-clone-${label}`);
    await mkdir(ourDir);
    await git(ourDir, "init", "-q", "-b", "main");
    store.reset();
    const ourClone = await time(async () => {
      const fetched = await fetchRefs({ store, layout, repo: "bench", gitDir: join(ourDir, ".git") });
      await git(ourDir, "checkout", "-q", "-B", "main", "refs/remotes/cloud/main");
      return fetched;
    });
    const helperDir = join(work, `helper-clone-${label}`);
    const helperEnv = { ...ENV, ...info.env, PATH: `${resolve("bin")}:${process.env.PATH}` };
    const helperClone = await time(() => gitText(["clone", "-q", `cloudbridge::s3://${info.bucket}/bench`, helperDir], { env: helperEnv }));
    const bundleDir = join(work, `bundle-clone-${label}`);
    const bundleClone = await time(async () => {
      const object = await raw.get(bundleKey(1000));
      const file = join(work, `clone-${label}.bundle`);
      await writeFile(file, (object as { body: Buffer }).body);
      await git(work, "clone", "-q", file, bundleDir);
    });
    if ((await git(ourDir, "rev-parse", "HEAD")) !== (await git(nativeDir, "rev-parse", "HEAD"))) throw new Error("clones differ");
    row(
      `cloudbridge fetch + checkout, ${label}`,
      ms(ourClone.ms),
      ratio(ourClone.ms, nativeClone.ms),
      ratio(ourClone.ms, bundleClone.ms),
      `${ourClone.value.packsDownloaded} packs, ${kib(ourClone.value.bytesDownloaded)}`,
      String(store.requests),
    );
    row(
      `git clone cloudbridge::s3://… (helper), ${label}`,
      ms(helperClone.ms),
      ratio(helperClone.ms, nativeClone.ms),
      ratio(helperClone.ms, bundleClone.ms),
      "",
      "",
    );
    row(`native git clone (local bare repo), ${label}`, ms(nativeClone.ms), "1.00×", "", "", "");
    const pipedDir = join(work, `piped-clone-${label}`);
    const piped = await time(() => git(work, "clone", "-q", "--no-local", nativeRemote, pipedDir));
    row(
      `native git clone --no-local (a pack over a pipe, as from a server), ${label}`,
      ms(piped.ms),
      ratio(piped.ms, nativeClone.ms),
      "",
      "",
      "",
    );
    row(
      `bundle GET + git clone (git-remote-s3 design), ${label}`,
      ms(bundleClone.ms),
      ratio(bundleClone.ms, nativeClone.ms),
      "1.00×",
      kib(finalBundle.bytes),
      "1",
    );
  }
  console.log(
    `\n(c) fresh clone after ${PUSHES} one-file pushes (median push: cloudbridge ${ms(median(pushTimes))}, native ${ms(median(nativePushTimes))})`,
  );
  row("", "time", "vs native git", "vs full bundle", "downloaded", "S3 requests");
  row("---", "---:", "---:", "---:", "---:", "---:");
  await clones("before compaction");
  const compaction = await time(() => compactRepository({ store: raw, layout, repo: "bench", engine: new NativeGitEngine() }));
  await clones("after compaction");
  console.log(
    `\ncompaction (native engine): ${ms(compaction.ms)} for ${compaction.value.merged.length} packs → ${compaction.value.objectCount} objects`,
  );
  // The Lambda's engine on the same packs: push one more so there are two packs to merge.
  await writeFile(join(src, "last.txt"), "last\n");
  await git(src, "add", "last.txt");
  await git(src, "commit", "-q", "-m", "last");
  await push({
    store: raw,
    layout,
    repo: "bench",
    gitDir,
    agent,
    updates: [{ ref: "refs/heads/main", oid: await git(src, "rev-parse", "HEAD") }],
  });
  const rssBefore = process.memoryUsage().rss;
  const isomorphic = await time(() => compactRepository({ store: raw, layout, repo: "bench", engine: new IsomorphicGitEngine() }));
  console.log(
    `compaction (isomorphic-git engine, as in Lambda): ${ms(isomorphic.ms)} for ${isomorphic.value.merged.length} packs → ${isomorphic.value.objectCount} objects ` +
      `(RSS ${kib(rssBefore)} → peak ${kib(process.resourceUsage().maxRSS * 1024)})`,
  );
} finally {
  s3.destroy();
  cloudProcess.kill("SIGTERM");
  await rm(work, { recursive: true, force: true });
}
