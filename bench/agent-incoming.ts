/**
 * Bulk incoming changes: 5,000 small files created on machine A (one `cloudbridge sync`) reach a daemon on
 * machine B; the time from A's push to the last file on B's disk, against a fresh `cloudbridge clone` of
 * the same repository (same files, same run), as a ratio. Also the receiving daemon's CPU time and how many
 * log lines it wrote for it. Run: `npm run bench:agent-incoming` (BENCH_FILES to scale).
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { GIT_ENV } from "../test/helpers/git.ts";
import { cloudbridge, daemon, startCloudProcess, stopChild } from "./agent-common.ts";

const FILES = Number(process.env.BENCH_FILES ?? 5_000);
const DIRS = 50;
const root = await mkdtemp(join(tmpdir(), "cb-bench-incoming-"));
const cloud = await startCloudProcess();
const env = { ...cloud.env, ...GIT_ENV };
const url = "s3://cloudbridge/incoming";
const A = join(root, "a");
const B = join(root, "b");
const C = join(root, "c");

/** User + system CPU of a process so far, in ms (Linux /proc). */
function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
}

async function countFiles(dir: string): Promise<number> {
  let n = 0;
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) if (entry.isFile()) n += 1;
  return n;
}

try {
  await mkdir(A, { recursive: true });
  await writeFile(join(A, "first.txt"), "first\n");
  const listen = ["--listen", "sqs", "--topic-arn", cloud.topicArn];
  await cloudbridge(["init", A, "--remote", url, ...listen, "--json"], env, { quiet: true });
  await cloudbridge(["clone", url, B, ...listen, "--json"], env, { quiet: true });
  const receiver = daemon(
    B,
    { ...env, ...(process.env.BENCH_PROF ? { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${process.env.BENCH_PROF}` } : {}) },
    [],
  );
  let log = "";
  receiver.child.stderr!.on("data", (c: Buffer) => (log += c.toString()));
  await receiver.ready;
  await new Promise((r) => setTimeout(r, 1000)); // the daemon's first rounds are over

  for (let d = 0; d < DIRS; d += 1) {
    await mkdir(join(A, `dir-${d}`));
    for (let f = 0; f < FILES / DIRS; f += 1) await writeFile(join(A, `dir-${d}`, `file-${f}.txt`), `${d}/${f} `.repeat(100));
  }
  await cloudbridge(["sync", A, "--json"], env, { quiet: true });
  const cpuBefore = cpuMs(receiver.child.pid!);
  const linesBefore = log.split("\n").length;
  const pushed = performance.now();
  for (;;) {
    const here = await readdir(join(B, `dir-${DIRS - 1}`)).catch(() => [] as string[]);
    if (here.includes(`file-${FILES / DIRS - 1}.txt`) && (await countFiles(B)) >= FILES + 1) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  const incomingMs = performance.now() - pushed;
  await new Promise((r) => setTimeout(r, 3000)); // what the daemon does after the files are there counts too
  const cpu = cpuMs(receiver.child.pid!) - cpuBefore;
  const lines = log
    .split("\n")
    .slice(linesBefore - 1)
    .filter(Boolean);
  await stopChild(receiver.child);

  const cloneStart = performance.now();
  await cloudbridge(["clone", url, C, "--listen", "poll", "--json"], env, { quiet: true });
  const cloneMs = performance.now() - cloneStart;
  // For reference: plain git through the remote helper (no stat cache, no annex, no agent registration).
  const gitStart = performance.now();
  execFileSync("git", ["clone", "-q", `cloudbridge::${url}`, join(root, "git-clone")], {
    env: { ...process.env, ...env, PATH: `${fileURLToPath(new URL("../bin", import.meta.url))}:${process.env.PATH}` },
    stdio: ["ignore", "ignore", "inherit"],
  });
  const gitMs = performance.now() - gitStart;

  const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
  process.stdout.write(
    [
      `${FILES.toLocaleString("en")} small files created on one machine, received by a daemon on another (SQS), same run`,
      "",
      "| figure | value |",
      "|---|---|",
      `| fresh \`cloudbridge clone\` of the repository | ${s(cloneMs)} |`,
      `| A's push to the last file on B's disk | ${s(incomingMs)} |`,
      `| ratio (incoming / fresh clone) | ${(incomingMs / cloneMs).toFixed(2)} |`,
      `| (plain \`git clone cloudbridge::…\` through the remote helper, for reference) | ${s(gitMs)} |`,
      `| receiving daemon's CPU (until 3 s after) | ${s(cpu)} |`,
      `| receiving daemon's log lines for it | ${lines.length} |`,
      "",
    ].join("\n"),
  );
  if (process.env.BENCH_VERBOSE) process.stdout.write(`${lines.join("\n")}\n`);
} finally {
  await cloud.stop();
  await rm(root, { recursive: true, force: true });
}
