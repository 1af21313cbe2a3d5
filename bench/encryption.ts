/**
 * Encrypted against clear repositories, same cloud, same run (docs/encryption.md):
 *
 *   - a one-file push (gitstore `push`, in process): median of BENCH_ENC_PUSHES pushes;
 *   - upload and download of one BENCH_ENC_MIB (default 200) MiB annexed file (`Annex.upload` / `Annex.get`,
 *     in process: hash verified, location log committed and pushed);
 *   - the CPU seconds of each transfer, this process and the cloud's together: unlike the time, the load of a
 *     shared machine does not change them, so their ratio is the cost of encryption where CPU is the limit;
 *   - peak RSS of the same transfer done by the CLI (`cloudbridge sync` of a folder the file was put in,
 *     `cloudbridge get` in a clone), each a child process measured by its own VmHWM, beside the baseline of
 *     the same command moving one small file (Node, the modules, a sync round: what no transfer can shrink).
 *
 * Rounds alternate which mode goes first; each figure is the median over BENCH_ENC_ROUNDS (default 3) rounds.
 * Run: `npm run bench:encryption`.
 */
import { execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { S3Client } from "@aws-sdk/client-s3";
import { LOCAL_CREDENTIALS } from "../local/cloud.ts";
import {
  loadIdentity,
  newKeyring,
  repositoryStore,
  S3ObjectStore,
  writeKeyring,
  type ObjectStore,
  type MultipartStore,
} from "../objectstore/index.ts";
import { BucketLayout } from "../protocol/layout.ts";
import { Annex, ensureCloudUuid } from "../annex/index.ts";
import { publishAnnexBranch } from "../agent/sync/cloud-branch-sync.ts";
import { push } from "../gitstore/index.ts";
import { peakRssEnv } from "../test/helpers/peak-rss.ts";

const MIB = Number(process.env.BENCH_ENC_MIB ?? 200);
const SIZE = MIB * 1024 * 1024;
const ROUNDS = Number(process.env.BENCH_ENC_ROUNDS ?? 3);
const PUSHES = Number(process.env.BENCH_ENC_PUSHES ?? 15);
type Mode = "clear" | "encrypted";

const server = spawn(resolve("bin/cloudbridge"), ["local", "--port", "0", "--json"], { stdio: ["ignore", "pipe", "inherit"] });
const cloud = await new Promise<{ endpoint: string; bucket: string; env: Record<string, string> }>((done, fail) => {
  server.stdout.once("data", (line: Buffer) =>
    done(JSON.parse(line.toString()) as { endpoint: string; bucket: string; env: Record<string, string> }),
  );
  server.once("exit", (code) => fail(new Error(`cloudbridge local exited (${code})`)));
});
const s3 = new S3Client({ region: cloud.env.AWS_REGION!, endpoint: cloud.endpoint, forcePathStyle: true, credentials: LOCAL_CREDENTIALS });
const raw = new S3ObjectStore(cloud.bucket, s3);
const layout = new BucketLayout();
const root = mkdtempSync(join(tmpdir(), "bench-encryption-"));
const identityFile = join(root, "identity.txt");
const identity = (await loadIdentity({ create: true, path: identityFile }))!;

let repoCount = 0;
async function repoFor(mode: Mode): Promise<{ repo: string; store: ObjectStore & MultipartStore }> {
  const repo = `bench-${mode}-${repoCount++}`;
  if (mode === "encrypted") await writeKeyring(raw, layout, repo, (await newKeyring(identity, "bench")).file, undefined);
  return { repo, store: await repositoryStore(raw, layout, repo, { machine: identity }) };
}

function git(dir: string, ...args: string[]): string {
  return execFileSync("git", args, {
    cwd: dir,
    encoding: "utf8",
    env: { ...process.env, GIT_AUTHOR_NAME: "b", GIT_AUTHOR_EMAIL: "b@b", GIT_COMMITTER_NAME: "b", GIT_COMMITTER_EMAIL: "b@b" },
  }).trim();
}

async function agent(store: ObjectStore & MultipartStore, repo: string, name: string): Promise<Annex> {
  const dir = join(root, `${repo}-${name}`);
  mkdirSync(dir);
  execFileSync("git", ["init", "-q", "-b", "main", dir]);
  const uuid = crypto.randomUUID();
  const annexCloud = { store, layout, repo };
  const cloudUuid = await ensureCloudUuid(annexCloud);
  const gitDir = join(dir, ".git");
  return new Annex({
    gitDir,
    uuid,
    cloud: annexCloud,
    cloudUuid,
    publish: () => publishAnnexBranch({ store, layout, repo, gitDir, agent: uuid }),
  });
}

/** CPU seconds (user + system) of this process and of the cloud's: what a transfer costs, whatever else runs on the machine. */
function cpuSeconds(): number {
  const own = process.cpuUsage();
  const [utime, stime] = readFileSync(`/proc/${server.pid}/stat`, "utf8").split(") ")[1]!.split(" ").slice(11, 13).map(Number);
  return (own.user + own.system) / 1e6 + (utime! + stime!) / 100;
}
async function cpuOf(work: () => Promise<unknown>): Promise<number> {
  const before = cpuSeconds();
  await work();
  return cpuSeconds() - before;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
async function seconds(work: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await work();
  return (performance.now() - started) / 1000;
}

const large = join(root, "large.bin");
const fd = openSync(large, "w");
for (let written = 0; written < SIZE; written += 16 * 1024 * 1024) writeSync(fd, randomBytes(Math.min(16 * 1024 * 1024, SIZE - written)));
closeSync(fd);

const figures: Record<Mode, { push: number[]; up: number[]; down: number[]; upCpu: number[]; downCpu: number[] }> = {
  clear: { push: [], up: [], down: [], upCpu: [], downCpu: [] },
  encrypted: { push: [], up: [], down: [], upCpu: [], downCpu: [] },
};
for (let round = 0; round < ROUNDS; round++) {
  for (const mode of (round % 2 === 0 ? ["clear", "encrypted"] : ["encrypted", "clear"]) as Mode[]) {
    const { repo, store } = await repoFor(mode);
    // One-file pushes.
    const dir = join(root, `${repo}-git`);
    mkdirSync(dir);
    git(dir, "init", "-q", "-b", "main");
    const gitDir = join(dir, ".git");
    const agentId = crypto.randomUUID();
    const times: number[] = [];
    for (let i = 0; i < PUSHES; i++) {
      writeFileSync(join(dir, `note-${i}.txt`), `note ${i}\n`);
      git(dir, "add", ".");
      git(dir, "commit", "-q", "-m", `note ${i}`);
      const oid = git(dir, "rev-parse", "HEAD");
      const t = await seconds(() => push({ store, layout, repo, gitDir, agent: agentId, updates: [{ ref: "refs/heads/main", oid }] }));
      if (i > 0) times.push(t);
    }
    figures[mode].push.push(median(times));
    // One large annexed file up and down.
    const a = await agent(store, repo, "a");
    const b = await agent(store, repo, "b");
    const key = await a.local.ingest(large);
    figures[mode].upCpu.push(
      await cpuOf(async () => figures[mode].up.push(await seconds(() => a.upload([{ key, fileName: "large.bin" }])))),
    );
    figures[mode].downCpu.push(await cpuOf(async () => figures[mode].down.push(await seconds(() => b.get([{ key }])))));
    console.log(
      `round ${round + 1} ${mode}: push ${(median(times) * 1000).toFixed(1)} ms, up ${figures[mode].up.at(-1)!.toFixed(2)} s, down ${figures[mode].down.at(-1)!.toFixed(2)} s`,
    );
  }
}

// Peak RSS of the CLI doing the same transfer, beside its baseline: the same command moving one small file
// (the process, its modules and a sync round, without the large transfer).
function cli(args: string[], env: Record<string, string>, cwd = root): void {
  execFileSync(resolve("bin/cloudbridge"), args, {
    cwd,
    env: { ...process.env, ...cloud.env, CLOUDBRIDGE_IDENTITY: identityFile, ...env },
    stdio: "ignore",
  });
}
const peakOf = (file: string) => Math.max(...readFileSync(file, "utf8").trim().split("\n").map(Number)) / 1024;
function peak(args: string[], cwd = root): number {
  const file = join(root, `rss-${randomBytes(4).toString("hex")}`);
  cli(args, peakRssEnv(file), cwd);
  return peakOf(file);
}
type Rss = { upBase: number[]; up: number[]; downBase: number[]; down: number[] };
const rss: Record<Mode, Rss> = {
  clear: { upBase: [], up: [], downBase: [], down: [] },
  encrypted: { upBase: [], up: [], downBase: [], down: [] },
};
for (let round = 0; round < ROUNDS; round++) {
  for (const mode of (round % 2 === 0 ? ["clear", "encrypted"] : ["encrypted", "clear"]) as Mode[]) {
    const name = `cli-${mode}-${round}`;
    const folder = join(root, `${name}-a`);
    mkdirSync(folder);
    cli(["init", folder, "--remote", `s3://${cloud.bucket}/${name}`, ...(mode === "encrypted" ? ["--encrypt"] : [])], {});
    writeFileSync(join(folder, "small.txt"), "small\n");
    rss[mode].upBase.push(peak(["sync", folder]));
    execFileSync("cp", ["--reflink=auto", large, join(folder, "large.bin")]);
    rss[mode].up.push(peak(["sync", folder]));
    const clone = join(root, `${name}-b`);
    cli(["clone", `s3://${cloud.bucket}/${name}`, clone, "--wanted", "nothing"], {});
    rss[mode].downBase.push(peak(["sync", clone]));
    rss[mode].down.push(peak(["get", "large.bin"], clone));
  }
}

const mbps = (s: number) => SIZE / 1e6 / s;
const row = (label: string, clear: string, encrypted: string, ratio: string) =>
  console.log(`| ${label} | ${clear} | ${encrypted} | ${ratio} |`);
console.log(`\ncloudbridge local at ${cloud.endpoint}; Node ${process.version}; medians of ${ROUNDS} rounds\n`);
console.log("| case | clear | encrypted | encrypted vs clear |\n|---|---|---|---|");
const push1 = { clear: median(figures.clear.push) * 1000, encrypted: median(figures.encrypted.push) * 1000 };
row(
  "one-file push (time)",
  `${push1.clear.toFixed(1)} ms`,
  `${push1.encrypted.toFixed(1)} ms`,
  `${(push1.clear / push1.encrypted).toFixed(2)}× the speed`,
);
for (const [label, which] of [
  [`upload ${MIB} MiB`, "up"],
  [`download ${MIB} MiB`, "down"],
] as const) {
  const clear = mbps(median(figures.clear[which]));
  const encrypted = mbps(median(figures.encrypted[which]));
  row(label, `${clear.toFixed(0)} MB/s`, `${encrypted.toFixed(0)} MB/s`, `${(encrypted / clear).toFixed(2)}×`);
}
// CPU time is what the load of a shared machine does not change: the cost encryption adds, as a speed ratio.
for (const [label, which] of [
  [`upload ${MIB} MiB, CPU seconds (agent + cloud)`, "upCpu"],
  [`download ${MIB} MiB, CPU seconds (agent + cloud)`, "downCpu"],
] as const) {
  const clear = median(figures.clear[which]);
  const encrypted = median(figures.encrypted[which]);
  row(label, `${clear.toFixed(2)} s`, `${encrypted.toFixed(2)} s`, `${(clear / encrypted).toFixed(2)}× the speed`);
}
for (const [label, which] of [
  ["peak RSS, `sync` of one small file (baseline)", "upBase"],
  [`peak RSS, \`sync\` uploading ${MIB} MiB`, "up"],
  ["peak RSS, `sync` of the clone, no transfer (baseline)", "downBase"],
  [`peak RSS, \`get\` of ${MIB} MiB`, "down"],
] as const) {
  const clear = median(rss.clear[which]);
  const encrypted = median(rss.encrypted[which]);
  row(label, `${clear.toFixed(0)} MiB`, `${encrypted.toFixed(0)} MiB`, `${(encrypted / clear).toFixed(2)}×`);
}

s3.destroy();
server.kill("SIGTERM");
rmSync(root, { recursive: true, force: true });
