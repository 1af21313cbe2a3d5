/**
 * Onboarding time for a machine: from a deployed stack to a configured, synced folder, as the CLI does it
 * against `cloudbridge local --stack` (every request signed and authorized by the stack's policies): the
 * first machine's `init --stack` (a folder of 100 small files), the administrator's `invite`, and a new
 * machine's `clone --invite` and `clone --stack`, each a real CLI process (Node start-up included; its
 * `--version` is printed for reference). Median and max over BENCH_RUNS (5) runs.
 * Run: `node --disable-warning=ExperimentalWarning bench/onboarding.ts`.
 */
import { execFile } from "node:child_process";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { startStackCloud } from "../local/stack/stack-cloud.ts";
import { synthCloudAssembly, TWO_AGENTS } from "../test/helpers/stack-cloud.ts";

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const CLI = fileURLToPath(new URL("../bin/cloudbridge", import.meta.url));
const run = promisify(execFile);

const stack = await startStackCloud({ cdkOut: synthCloudAssembly(TWO_AGENTS) });
const work = await mkdtemp(join(tmpdir(), "cloudbridge-bench-onboarding-"));
const base = { PATH: process.env.PATH ?? "", HOME: work, GIT_CONFIG_NOSYSTEM: "1", GIT_CONFIG_GLOBAL: "/dev/null" };
const admin = { ...base, ...stack.env, AWS_SHARED_CREDENTIALS_FILE: join(work, "admin-machine-credentials") };

async function timed(args: string[], env: Record<string, string>): Promise<number> {
  const started = performance.now();
  await run(CLI, args, { env });
  return performance.now() - started;
}
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const line = (label: string, values: number[]) =>
  console.log(
    `${label.padEnd(52)} median ${median(values).toFixed(0).padStart(5)} ms   max ${Math.max(...values)
      .toFixed(0)
      .padStart(5)} ms`,
  );

try {
  const first = join(work, "first");
  await mkdir(first);
  for (let i = 0; i < 100; i++) await writeFile(join(first, `note-${i}.txt`), `note ${i}\n`);
  line("cloudbridge --version (Node start-up)", [
    await timed(["--version"], base),
    await timed(["--version"], base),
    await timed(["--version"], base),
  ]);
  line("init --stack, first machine (100 files)", [
    await timed(["init", first, "--stack", stack.stackName, "--agent", "alice", "--repo", "notes"], admin),
  ]);
  const invites: number[] = [];
  const byInvite: number[] = [];
  const byStack: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const invite = join(work, `invite-${i}`);
    invites.push(await timed(["invite", "--stack", stack.stackName, "--agent", "alice", "--repo", "notes", "--out", invite], admin));
    const machine = { ...base, AWS_SHARED_CREDENTIALS_FILE: join(work, `machine-${i}-credentials`) };
    byInvite.push(await timed(["clone", "--invite", invite, join(work, `by-invite-${i}`)], machine));
    byStack.push(
      await timed(["clone", "--stack", stack.stackName, "--agent", "alice", "--repo", "notes", join(work, `by-stack-${i}`)], {
        ...admin,
        AWS_SHARED_CREDENTIALS_FILE: join(work, `admin-${i}-credentials`),
      }),
    );
  }
  line("invite (administrator)", invites);
  line("clone --invite, a new machine (100 files)", byInvite);
  line("clone --stack, a new machine (100 files)", byStack);
} finally {
  await stack.stop();
  await rm(work, { recursive: true, force: true });
}
