/**
 * Git through the bucket against native git, measured in one run on this machine:
 *  (a) initial push of 10,000 files of 1 KiB in 100 directories,
 *  (b) a one-file commit pushed on top,
 *  (c) a fresh clone after 200 one-file pushes, before and after compaction.
 * Every figure is the median of several rounds in which the contenders run one after another, so that the
 * ratios hold on a machine whose load changes (the development machine is shared).
 * Each cloudbridge figure is set against native git to a local bare repository (`git push` / `git clone`
 * of a path) and against the design of awslabs' git-remote-s3 (one full `git bundle` per push, one PUT).
 * cloudbridge local runs in its own process, as a real endpoint would.
 * Run: `npm run bench:git` (BENCH_FILES, BENCH_PUSHES, BENCH_ROUNDS to scale).
 */
import { spawn } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { S3Client } from "@aws-sdk/client-s3";
import { interleavedRounds, median } from "./agent-common.ts";
import { CountingStore } from "./counting-store.ts";
import { S3ObjectStore } from "../objectstore/s3-object-store.ts";
import { BucketLayout } from "../protocol/layout.ts";
import { compactRepository, fetchRefs, NativeGitEngine, push } from "../gitstore/index.ts";
import { IsomorphicGitEngine } from "../gitstore/isomorphic-engine.ts";
import { gitText, runGit } from "../localgit/index.ts";
import { git, GIT_ENV } from "../test/helpers/git.ts";

const FILES = Number(process.env.BENCH_FILES ?? 10_000);
const PUSHES = Number(process.env.BENCH_PUSHES ?? 200);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
async function time<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const started = performance.now();
  const value = await fn();
  return { ms: performance.now() - started, value };
}
const ms = (value: number) => `${value.toFixed(0)} ms`;
const kib = (bytes: number) => (bytes >= 1024 * 1024 ? `${(bytes / 1024 / 1024).toFixed(1)} MiB` : `${(bytes / 1024).toFixed(1)} KiB`);
const ratio = (a: number, b: number) => `${(a / b).toFixed(2)}×`;

interface Sample {
  ms: number;
  bytes?: number;
  requests?: number;
  packs?: number;
}
interface Contender {
  label: string;
  /** "native" and "bundle" are what the others' ratios are quoted against. */
  role?: "native" | "bundle";
  run: (round: number) => Promise<Sample>;
}

/** Runs every contender once per round, interleaved, and prints medians with ratios as a Markdown table. */
async function compare(title: string, bytesLabel: string, contenders: Contender[], prepare?: (round: number) => Promise<void>) {
  const samples = await interleavedRounds(ROUNDS, contenders, { prepare });
  const medianOf = (c: Contender) => median(samples.get(c)!.map((s) => s.ms));
  const native = contenders.find((c) => c.role === "native");
  const bundle = contenders.find((c) => c.role === "bundle");
  console.log(`\n${title} (median of ${ROUNDS})\n`);
  console.log(`|  | time | vs native git | vs full bundle | ${bytesLabel} | S3 requests |`);
  console.log("| --- | ---: | ---: | ---: | ---: | ---: |");
  for (const contender of contenders) {
    const last = samples.get(contender)!.at(-1)!;
    const bytes = last.bytes === undefined ? "" : `${last.packs === undefined ? "" : `${last.packs} packs, `}${kib(last.bytes)}`;
    const cells = [
      contender.label,
      ms(medianOf(contender)),
      native ? ratio(medianOf(contender), medianOf(native)) : "",
      bundle ? ratio(medianOf(contender), medianOf(bundle)) : "",
      bytes,
      last.requests === undefined ? "" : String(last.requests),
    ];
    console.log(`| ${cells.join(" | ")} |`);
  }
}

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

try {
  console.log(
    `git ${(await gitText(["--version"])).replace("git version ", "")}, Node ${process.version}, ${FILES} files, ${PUSHES} pushes, ` +
      `load average ${(await readFile("/proc/loadavg", "utf8").catch(() => "?")).split(" ").slice(0, 3).join(" ")}`,
  );
  const src = join(work, "src");
  await mkdir(src);
  await git(src, "init", "-q", "-b", "main");
  const lines: string[] = ["commit refs/heads/main", "committer Bench <bench@example.com> 1700000000 +0000", "data 7", "initial"];
  for (let i = 0; i < FILES; i++) {
    const content = randomBytes(512).toString("hex"); // 1 KiB that does not compress away
    lines.push(`M 100644 inline d${i % 100}/f${i}.txt`, `data ${content.length}`, content);
  }
  await runGit(["fast-import", "--quiet"], { cwd: src, env: GIT_ENV, input: `${lines.join("\n")}\n` });
  await git(src, "checkout", "-q", "main");
  const gitDir = join(src, ".git");
  const agent = randomUUID();
  const bare = async (name: string) => {
    const path = join(work, `${name}.git`);
    await git(work, "init", "-q", "--bare", "--initial-branch=main", path);
    return path;
  };
  const ours = async (repo: string, oid: string): Promise<Sample> => {
    store.reset();
    const { ms: elapsed } = await time(() => push({ store, layout, repo, gitDir, agent, updates: [{ ref: "refs/heads/main", oid }] }));
    return { ms: elapsed, bytes: store.bytesUp, requests: store.requests };
  };
  /** git-remote-s3's design: a full bundle of the branch per push, one PUT (and removal of the previous one). */
  const bundlePush = async (key: string, previous?: string): Promise<Sample> => {
    const file = join(work, "push.bundle");
    const { ms: elapsed, value: bytes } = await time(async () => {
      await git(src, "bundle", "create", "-q", file, "HEAD", "main");
      const body = await readFile(file);
      await raw.put(key, body);
      if (previous) await raw.delete(previous);
      return body.length;
    });
    return { ms: elapsed, bytes, requests: previous ? 2 : 1 };
  };
  const head = async () => git(src, "rev-parse", "HEAD");

  // (a) the initial push, each round to a new repository
  await compare(`(a) initial push of ${FILES} files of 1 KiB in 100 directories`, "uploaded", [
    {
      label: "native git push (local bare repo)",
      role: "native",
      run: async (r) => ({ ms: (await time(async () => git(src, "push", "-q", await bare(`initial-${r}`), "main"))).ms }),
    },
    { label: "cloudbridge push", run: async (r) => ours(`initial-${r}`, await head()) },
    { label: "full bundle + PUT (git-remote-s3 design)", role: "bundle", run: (r) => bundlePush(`bundles/initial-${r}.bundle`) },
  ]);

  // (b) a one-file commit on top of that
  const nativeRemote = await bare("native");
  await git(src, "push", "-q", nativeRemote, "main");
  await push({ store: raw, layout, repo: "bench", gitDir, agent, updates: [{ ref: "refs/heads/main", oid: await head() }] });
  let bundles = 0;
  const edit = async (label: string, path: string) => {
    await writeFile(join(src, path), `${label} ${randomBytes(500).toString("hex")}\n`);
    await git(src, "commit", "-q", "-am", label);
  };
  await compare(
    "(b) one-file commit pushed on top",
    "uploaded",
    [
      {
        label: "native git push (local bare repo)",
        role: "native",
        run: async () => ({ ms: (await time(() => git(src, "push", "-q", nativeRemote, "main"))).ms }),
      },
      { label: "cloudbridge push", run: async () => ours("bench", await head()) },
      {
        label: "full bundle + PUT (git-remote-s3 design)",
        role: "bundle",
        run: async () => bundlePush(`bundles/main-${++bundles}.bundle`, `bundles/main-${bundles - 1}.bundle`),
      },
    ],
    (round) => edit(`edit ${round}`, "d7/f7.txt"),
  );

  // (c) 200 one-file pushes, then fresh clones before and after compaction
  const pushTimes: number[] = [];
  const nativePushTimes: number[] = [];
  for (let i = 0; i < PUSHES; i++) {
    await edit(`push ${i}`, `d${i % 100}/f${i % 100}.txt`);
    const oid = await head();
    nativePushTimes.push((await time(() => git(src, "push", "-q", nativeRemote, "main"))).ms);
    pushTimes.push(
      (await time(() => push({ store: raw, layout, repo: "bench", gitDir, agent, updates: [{ ref: "refs/heads/main", oid }] }))).ms,
    );
  }
  await bundlePush("bundles/latest.bundle");
  const tip = await head();
  const helperEnv = { ...GIT_ENV, ...info.env, PATH: `${resolve("bin")}:${process.env.PATH}` };
  const checked = async (dir: string, sample: Sample): Promise<Sample> => {
    if ((await git(dir, "rev-parse", "HEAD")) !== tip) throw new Error(`the clone in ${dir} is not at ${tip}`);
    return sample;
  };
  const clones = (stage: string): Contender[] => [
    {
      label: `native git clone (local bare repo), ${stage}`,
      role: "native",
      run: async (r) =>
        checked(join(work, `native-${stage}-${r}`), {
          ms: (await time(() => git(work, "clone", "-q", nativeRemote, join(work, `native-${stage}-${r}`)))).ms,
        }),
    },
    {
      label: `native git clone --no-local (a pack through a pipe, as from a server), ${stage}`,
      run: async (r) =>
        checked(join(work, `piped-${stage}-${r}`), {
          ms: (await time(() => git(work, "clone", "-q", "--no-local", nativeRemote, join(work, `piped-${stage}-${r}`)))).ms,
        }),
    },
    {
      label: `cloudbridge fetch + checkout, ${stage}`,
      run: async (r) => {
        const dir = join(work, `ours-${stage}-${r}`);
        await mkdir(dir);
        await git(dir, "init", "-q", "-b", "main");
        store.reset();
        const { ms: elapsed, value } = await time(async () => {
          const fetched = await fetchRefs({ store, layout, repo: "bench", gitDir: join(dir, ".git") });
          await git(dir, "checkout", "-q", "-B", "main", "refs/remotes/cloud/main");
          return fetched;
        });
        return checked(dir, { ms: elapsed, bytes: value.bytesDownloaded, packs: value.packsDownloaded, requests: store.requests });
      },
    },
    {
      label: `git clone cloudbridge::s3://… (remote helper, a process), ${stage}`,
      run: async (r) => {
        const dir = join(work, `helper-${stage}-${r}`);
        return checked(dir, {
          ms: (await time(() => gitText(["clone", "-q", `cloudbridge::s3://${info.bucket}/bench`, dir], { env: helperEnv }))).ms,
        });
      },
    },
    {
      label: `bundle GET + git clone (git-remote-s3 design), ${stage}`,
      role: "bundle",
      run: async (r) => {
        const dir = join(work, `bundle-${stage}-${r}`);
        const file = join(work, `bundle-${stage}-${r}.bundle`);
        const { ms: elapsed, value: bytes } = await time(async () => {
          const object = await raw.get("bundles/latest.bundle");
          await writeFile(file, (object as { body: Buffer }).body);
          await git(work, "clone", "-q", file, dir);
          return (object as { body: Buffer }).body.length;
        });
        return checked(dir, { ms: elapsed, bytes, requests: 1 });
      },
    },
  ];
  console.log(
    `\n${PUSHES} one-file pushes: median cloudbridge push ${ms(median(pushTimes))}, native git push ${ms(median(nativePushTimes))}`,
  );
  await compare(`(c) fresh clone after ${PUSHES} one-file pushes, before compaction`, "downloaded", clones("before compaction"));
  const compaction = await time(() => compactRepository({ store: raw, layout, repo: "bench", engine: new NativeGitEngine() }));
  await compare(`(c) fresh clone after ${PUSHES} one-file pushes, after compaction`, "downloaded", clones("after compaction"));
  console.log(
    `\ncompaction (native engine): ${ms(compaction.ms)} for ${compaction.value.merged.length} packs → ${compaction.value.objectCount} objects`,
  );
  // The Lambda's engine on the same objects: push one more so there are two packs to merge.
  await edit("last", "d0/f0.txt");
  await push({ store: raw, layout, repo: "bench", gitDir, agent, updates: [{ ref: "refs/heads/main", oid: await head() }] });
  const rssBefore = process.memoryUsage().rss;
  const isomorphic = await time(() => compactRepository({ store: raw, layout, repo: "bench", engine: new IsomorphicGitEngine() }));
  console.log(
    `compaction (isomorphic-git engine, as in Lambda): ${ms(isomorphic.ms)} for ${isomorphic.value.merged.length} packs → ` +
      `${isomorphic.value.objectCount} objects (process RSS ${kib(rssBefore)} before, peak ${kib(process.resourceUsage().maxRSS * 1024)})`,
  );
} finally {
  s3.destroy();
  cloudProcess.kill("SIGTERM");
  await rm(work, { recursive: true, force: true });
}
