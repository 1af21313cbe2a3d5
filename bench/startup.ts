/**
 * Start-up, measured as a person meets it: the commands run through bin/cloudbridge and git runs
 * bin/git-remote-cloudbridge, each a new process, set against its floor or peer in the same run:
 *  - `cloudbridge --version`: wall time and peak RSS, against Node starting an empty script (the floor);
 *    bin/cloudbridge answers it without Node, so the CLI's own `--version` (agent/cli/main.ts, commander and
 *    the command list) is measured too, with Node's compile cache (as bin/cloudbridge runs it) and without
 *    (NODE_DISABLE_COMPILE_CACHE=1);
 *  - `cloudbridge status --help`;
 *  - `cloudbridge status` of a small synced folder where nothing changed, against `git status` there;
 *  - the CLI's everyday commands (status with no daemon, with the folder's daemon running and in a folder that
 *    is not set up, log, conflicts, versions, whereis, and init --remote of a new empty folder) as bin/cloudbridge runs them, from the CLI's bundle
 *    (dist/cloudbridge.cjs, through bin/run-bundle.cjs's code cache), against the same command from the
 *    TypeScript sources (CLOUDBRIDGE_CLI_FROM_SOURCE=1), and BENCH_BASELINE's launcher when given;
 *  - `git push` of one commit through the remote helper to the local cloud, against native `git push` of
 *    the same commit to a local bare repository, with the S3 requests the helper made; the helper as
 *    `npm ci` installs it (bundled into one file, scripts/build-helper.mjs, with its light S3 client, what
 *    plain settings get), from its TypeScript sources (CLOUDBRIDGE_HELPER_FROM_SOURCE=1), and on the AWS
 *    SDK's S3 client (CLOUDBRIDGE_S3_CLIENT=sdk); beside them Node starting an empty script, the floor of
 *    any helper written for Node; and the helper in a synced folder whose daemon runs, which hands the push
 *    to the daemon (gitstore/remote-helper/through-daemon.pl): its CPU time is the command's plus what the daemon
 *    spent meanwhile (its threads from /proc/<pid>/task/<tid>/schedstat, to the nanosecond, and the git
 *    processes it ran from /proc/<pid>/stat's children times, in clock ticks of 10 ms), so that work moved
 *    into the daemon is counted, not hidden.
 * CPU time (user + system, the command's and its children's, to the millisecond) says what load does not change.
 * Rounds are interleaved (every contender once per round) and figures are medians, so that the ratios hold
 * on a machine whose load changes. The compile cache lives in a directory of this run, filled by one
 * warm-up run of each command. Peak RSS needs GNU time (`apt-get install time`).
 * Run: `npm run bench:startup` (BENCH_ROUNDS, BENCH_FILES scale it; BENCH_ONLY=push measures the pushes only,
 * BENCH_ONLY=cli the everyday commands only;
 * BENCH_BASELINE=<another checkout> pushes through that checkout's daemon and through its helper alone too, in the same rounds).
 */
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { gitText } from "../localgit/index.ts";
import { startCountingProxy } from "../test/helpers/counting-proxy.ts";
import { GIT_ENV } from "../test/helpers/git.ts";
import { interleavedRounds, median } from "./agent-common.ts";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 11);
const FILES = Number(process.env.BENCH_FILES ?? 100);
const ONLY_PUSH = process.env.BENCH_ONLY === "push";
const ONLY_CLI = process.env.BENCH_ONLY === "cli";
/** Another checkout (its dependencies installed and its helper built), whose daemon and helper push in a folder of their own beside this one's. */
const BASELINE = process.env.BENCH_BASELINE;
const ROOT = fileURLToPath(new URL("..", import.meta.url));
const CLOUDBRIDGE = join(ROOT, "bin/cloudbridge");
const NODE = join(ROOT, "node_modules/node/bin/node");
const GNU_TIME = "/usr/bin/time";

interface Sample {
  ms: number;
  /** CPU time (user + system) of the command and the children it waited for (and the daemon's, for a push it asked a daemon to do). */
  cpuMs?: number;
  /** Of `cpuMs`, what the daemon spent. */
  daemonCpuMs?: number;
  /** Peak resident memory of the process, when GNU time measured it. */
  kib?: number;
  requests?: number;
}

interface Contender {
  label: string;
  /** The label of the contender this one's ratio is quoted against. */
  against?: string;
  run: () => Promise<Sample>;
}

/**
 * Bash runs the command (through GNU time when it is installed, for the peak RSS) and reports its wall time
 * (EPOCHREALTIME, around the command alone) and the CPU time of the command and its children to the
 * millisecond (`times`; GNU time's own counts in steps of 10 ms).
 */
const MEASURE = 'a=$EPOCHREALTIME; "$@"; s=$?; b=$EPOCHREALTIME; echo "wall-s $a $b" >&2; times >&2; exit $s';

/** `failing`: the command is measured failing (a folder that is not set up), so its exit code is not an error. */
function run(command: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; failing?: true } = {}): Promise<Sample> {
  const measured = existsSync(GNU_TIME);
  const args = ["-c", MEASURE, "bash", ...(measured ? [GNU_TIME, "-f", "peak-kib %M", ...command] : command)];
  return new Promise((resolve, reject) => {
    execFile("bash", args, { cwd: options.cwd, env: options.env ?? process.env, maxBuffer: 16 * 1024 * 1024 }, (error, _stdout, stderr) => {
      if (error && !(options.failing && typeof error.code === "number"))
        return reject(new Error(`${command.join(" ")} failed: ${stderr || error.message}`));
      const wall = /wall-s ([\d.]+) ([\d.]+)/.exec(stderr);
      // `times` prints the shell's own user and system time, then its children's: the command's.
      const children = /(\d+)m([\d.]+)s (\d+)m([\d.]+)s\s*$/.exec(stderr);
      const kib = /peak-kib (\d+)/.exec(stderr)?.[1];
      if (!wall || !children) return reject(new Error(`no timing in the output of ${command.join(" ")}: ${stderr}`));
      const cpuS = Number(children[1]) * 60 + Number(children[2]) + Number(children[3]) * 60 + Number(children[4]);
      resolve({ ms: (Number(wall[2]) - Number(wall[1])) * 1000, cpuMs: cpuS * 1000, ...(kib ? { kib: Number(kib) } : {}) });
    });
  });
}

/** Clock ticks per second of /proc's times (`getconf CLK_TCK`; 100 on Linux for x86 and arm). */
const CLOCK_TICKS = 100;

/**
 * CPU time a running process has used so far, in ms: its threads' (schedstat, in ns) and its children's it
 * waited for (the git processes a daemon runs; /proc/<pid>/stat's cutime + cstime, in clock ticks).
 */
async function processCpuMs(pid: number): Promise<number> {
  let ns = 0;
  for (const task of await readdir(`/proc/${pid}/task`)) {
    const schedstat = await readFile(`/proc/${pid}/task/${task}/schedstat`, "utf8").catch(() => "0");
    ns += Number(schedstat.split(" ")[0]);
  }
  const stat = await readFile(`/proc/${pid}/stat`, "utf8");
  // The fields after the command's name (which may hold spaces), in parentheses: cutime and cstime are the 16th and 17th.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const childrenTicks = Number(fields[13]) + Number(fields[14]);
  return ns / 1e6 + (childrenTicks * 1000) / CLOCK_TICKS;
}

/** A remote helper that answers git's push and stores nothing: no refs listed, every push "ok". */
const NULL_HELPER = `let buffered = "";
let pushing = false;
process.stdin.on("data", (chunk) => {
  buffered += chunk;
  for (let end = buffered.indexOf("\\n"); end >= 0; end = buffered.indexOf("\\n")) {
    const line = buffered.slice(0, end);
    buffered = buffered.slice(end + 1);
    if (line === "capabilities") process.stdout.write("push\\noption\\n\\n");
    else if (line.startsWith("option ")) process.stdout.write("unsupported\\n");
    else if (line.startsWith("list")) process.stdout.write("\\n");
    else if (line.startsWith("push ")) (pushing = true), process.stdout.write("ok " + line.split(":")[1] + "\\n");
    else if (line === "" && pushing) (pushing = false), process.stdout.write("\\n");
  }
});
`;

const ms = (value: number) => `${value.toFixed(0)} ms`;
const mib = (kib: number) => `${(kib / 1024).toFixed(1)} MiB`;

/** Every contender once per round, the order turned each round; medians as a Markdown table with ratios. */
async function compare(title: string, contenders: Contender[], prepare?: () => Promise<void>): Promise<Map<string, number>> {
  const samples = await interleavedRounds(ROUNDS, contenders, { prepare, turnOrder: true });
  const timeOf = (c: Contender) => median(samples.get(c)!.map((s) => s.ms));
  const cpuOf = (c: Contender) => median(samples.get(c)!.map((s) => s.cpuMs!));
  console.log(`\n${title} (median of ${ROUNDS} rounds)\n`);
  console.log("|  | time | ratio | CPU time | CPU ratio | of it the daemon's | peak RSS (largest process) | S3 requests |");
  console.log("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
  for (const contender of contenders) {
    const own = samples.get(contender)!;
    const base = contenders.find((c) => c.label === contender.against);
    const kib = own.every((s) => s.kib !== undefined) ? mib(median(own.map((s) => s.kib!))) : "";
    const requests = own.every((s) => s.requests !== undefined) ? String(median(own.map((s) => s.requests!))) : "";
    const ratio = base ? `${(timeOf(contender) / timeOf(base)).toFixed(2)}× ${base.label}` : "";
    const cpuRatio = base ? `${(cpuOf(contender) / cpuOf(base)).toFixed(2)}×` : "";
    const daemon = own.every((s) => s.daemonCpuMs !== undefined) ? ms(median(own.map((s) => s.daemonCpuMs!))) : "";
    console.log(
      `| ${contender.label} | ${ms(timeOf(contender))} | ${ratio} | ${ms(cpuOf(contender))} | ${cpuRatio} | ${daemon} | ${kib} | ${requests} |`,
    );
  }
  return new Map(contenders.map((c) => [c.label, timeOf(c)]));
}

// The helper's bundle made from the sources as they are, as `npm ci` makes it.
await run([NODE, join(ROOT, "scripts/build-helper.mjs")]);
// The cloud in its own process, as a real endpoint would be; its S3 requests counted on the way.
const cloudProcess = spawn(NODE, ["--disable-warning=ExperimentalWarning", join(ROOT, "local/main.ts"), "--port", "0", "--json"], {
  stdio: ["ignore", "pipe", "inherit"],
});
const work = await mkdtemp(join(tmpdir(), "cloudbridge-bench-startup-"));
const servingDaemons: ChildProcess[] = [];
let gitHttpServer: ChildProcess | undefined;
try {
  const info = JSON.parse(await new Promise<string>((ok) => createInterface({ input: cloudProcess.stdout! }).once("line", ok))) as {
    endpoint: string;
    bucket: string;
    env: Record<string, string>;
  };
  const proxy = await startCountingProxy(info.endpoint);
  const home = join(work, "home");
  await mkdir(home);
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ...GIT_ENV,
    ...info.env,
    AWS_ENDPOINT_URL: proxy.endpoint,
    HOME: home,
    XDG_CACHE_HOME: join(home, ".cache"),
    XDG_CONFIG_HOME: join(home, ".config"),
    // git finds git-remote-cloudbridge on the PATH, as after `npm install -g`.
    PATH: `${join(ROOT, "bin")}:${process.env.PATH}`,
  };
  delete env.NODE_COMPILE_CACHE;
  const noCache = { ...env, NODE_DISABLE_COMPILE_CACHE: "1" };
  // The CLI as bin/cloudbridge starts it, for what the launcher answers itself.
  const cached = { ...env, NODE_COMPILE_CACHE: join(home, ".cache", "cloudbridge", "compile-cache") };
  const CLI_VERSION = [
    NODE,
    "--disable-warning=ExperimentalWarning",
    "--max-semi-space-size=1",
    join(ROOT, "agent/cli/main.ts"),
    "--version",
  ];
  const git = (cwd: string, ...args: string[]) => gitText(args, { cwd, env: GIT_ENV });

  // A small synced folder, and a repository with two remotes: the cloud and a native bare repository.
  const folder = join(work, "folder");
  await mkdir(folder);
  if (!ONLY_PUSH) {
    for (let i = 0; i < FILES; i++) await writeFile(join(folder, `note-${i}.txt`), `note ${i}\n`);
    await run([CLOUDBRIDGE, "init", folder, "--remote", `s3://${info.bucket}/notes`, "--listen", "poll", "--json"], { env });
  }
  // One local repository per contender, each making the same commits, each with one remote, as a person's
  // has: each remembers that remote's refs index (.git/cloudbridge/refs-index/<hash>.json) and nothing else.
  await git(work, "init", "-q", "--bare", "--initial-branch=main", join(work, "native.git"));
  // git's own HTTP transport to a server on this machine, in its own process as the cloud is.
  await git(work, "init", "-q", "--bare", "--initial-branch=main", join(work, "native-http.git"));
  gitHttpServer = spawn(NODE, ["--disable-warning=ExperimentalWarning", join(ROOT, "bench/git-http-server.ts"), work], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const gitHttpOrigin = await new Promise<string>((ok) => createInterface({ input: gitHttpServer!.stdout! }).once("line", ok));
  const contenders: Record<string, { url: string; env: NodeJS.ProcessEnv }> = {
    native: { url: join(work, "native.git"), env },
    "native-http": { url: `${gitHttpOrigin}/native-http.git`, env },
    cloud: { url: `cloudbridge::s3://${info.bucket}/pushes`, env },
    "cloud-source": { url: `cloudbridge::s3://${info.bucket}/pushes-source`, env: { ...env, CLOUDBRIDGE_HELPER_FROM_SOURCE: "1" } },
    "cloud-sdk": { url: `cloudbridge::s3://${info.bucket}/pushes-sdk`, env: { ...env, CLOUDBRIDGE_S3_CLIENT: "sdk" } },
    // BENCH_BASELINE's helper alone (its launcher first on the PATH), bundled as its `npm ci` made it.
    ...(BASELINE
      ? {
          "cloud-baseline": {
            url: `cloudbridge::s3://${info.bucket}/pushes-baseline`,
            env: { ...env, PATH: `${join(BASELINE, "bin")}:${env.PATH}` },
          },
        }
      : {}),
    // The floor of any remote helper on Node: one started as ours is (a bash launcher, the project's Node,
    // a CommonJS file) that answers git and stores nothing.
    "null-helper": { url: "nullhelper::nowhere", env: { ...env, PATH: `${join(work, "bin")}:${env.PATH}` } },
  };
  type Pusher = string;
  await mkdir(join(work, "bin"));
  await writeFile(
    join(work, "bin", "git-remote-nullhelper"),
    `#!/usr/bin/env bash\nexec "${NODE}" "${join(work, "null-helper.cjs")}" "$@"\n`,
    {
      mode: 0o755,
    },
  );
  await writeFile(join(work, "null-helper.cjs"), NULL_HELPER);
  const repoOf = (name: Pusher) => join(work, `repo-${name}`);
  let commits = 0;
  const commit = async () => {
    commits += 1;
    for (const name of Object.keys(contenders) as Pusher[]) {
      await writeFile(join(repoOf(name), "a.txt"), `a ${commits}\n`);
      await git(repoOf(name), "commit", "-q", "-a", "-m", `change ${commits}`);
    }
  };
  const pushAll = async () => {
    for (const [name, { env: pushEnv }] of Object.entries(contenders))
      await run(["git", "push", "-q", "origin", "main"], { cwd: repoOf(name as Pusher), env: pushEnv });
  };
  for (const [name, { url }] of Object.entries(contenders)) {
    const repo = repoOf(name as Pusher);
    await mkdir(repo);
    await git(repo, "init", "-q", "-b", "main");
    await git(repo, "remote", "add", "origin", url);
    await writeFile(join(repo, "a.txt"), "a\n");
    await git(repo, "add", "a.txt");
    await git(repo, "commit", "-q", "-m", "first");
  }
  await pushAll();

  // A synced folder whose daemon runs (quiet: no round of its own for 10 minutes), where git pushes a
  // branch of its own with commits made without touching the folder's files: the daemon's only work
  // during a push is the push git's helper asks of it. `root`: the checkout whose CLI runs the daemon and
  // whose launcher git finds first on the PATH (BENCH_BASELINE's, to compare with another version).
  const servedFolder = async (name: string, root: string) => {
    const served = join(work, name);
    const servedEnv = { ...env, PATH: `${join(root, "bin")}:${env.PATH}` };
    const cli = join(root, "bin/cloudbridge");
    await mkdir(served);
    await writeFile(join(served, "a.txt"), "a\n");
    await run([cli, "init", served, "--remote", `s3://${info.bucket}/${name}`, "--listen", "poll", "--json"], { env: servedEnv });
    await git(served, "remote", "add", "origin", `cloudbridge::s3://${info.bucket}/${name}`);
    const quiet = ["--poll-interval", "600", "--reconcile-interval", "600", "--debounce", "600000", "--ui-port", "off"];
    const daemonProcess: ChildProcess = spawn(cli, ["daemon", served, "--json-log", ...quiet], {
      env: { ...servedEnv, CLOUDBRIDGE_LOG_LEVEL: "debug" },
      stdio: ["ignore", "ignore", "pipe"],
    });
    servingDaemons.push(daemonProcess);
    let helperPushes = 0;
    /** The daemon's own process's CPU per answer (its debug log: helper.listed, helper.pushed), git's processes aside. */
    const ownCpu: Record<string, number[]> = { "helper.listed": [], "helper.pushed": [] };
    await new Promise<void>((ready, failed) => {
      daemonProcess.once("exit", (code) => failed(new Error(`the daemon exited (${code}) before it was ready`)));
      createInterface({ input: daemonProcess.stderr! }).on("line", (line) => {
        if (line.includes('"daemon.ready"')) ready();
        if (line.includes('"helper.pushed"')) helperPushes += 1;
        const event = /"event":"(helper\.(?:listed|pushed))".*"cpuMs":(\d+)/.exec(line);
        if (event) ownCpu[event[1]!]!.push(Number(event[2]));
      });
    });
    let commits = 0;
    const commit = async () => {
      commits += 1;
      const index = { ...GIT_ENV, GIT_INDEX_FILE: join(work, `${name}-index`) };
      await writeFile(join(work, `${name}-a.txt`), `a ${commits}\n`);
      const blob = await gitText(["hash-object", "-w", join(work, `${name}-a.txt`)], { cwd: served, env: GIT_ENV });
      await gitText(["update-index", "--add", "--cacheinfo", `100644,${blob},a.txt`], { cwd: served, env: index });
      const tree = await gitText(["write-tree"], { cwd: served, env: index });
      const parent = commits === 1 ? "main" : "bench";
      const made = await gitText(["commit-tree", tree, "-p", parent, "-m", `change ${commits}`], { cwd: served, env: GIT_ENV });
      await git(served, "update-ref", "refs/heads/bench", made);
    };
    const push = async (): Promise<Sample> => {
      proxy.reset();
      const before = await processCpuMs(daemonProcess.pid!);
      const pushesBefore = helperPushes;
      const sample = await run(["git", "push", "-q", "origin", "bench"], { cwd: served, env: servedEnv });
      const daemonCpuMs = (await processCpuMs(daemonProcess.pid!)) - before;
      // Read after the daemon's log line: the push counted is one the daemon did.
      await new Promise((resolve) => setTimeout(resolve, 20));
      if (helperPushes !== pushesBefore + 1) throw new Error(`the push in ${name} did not go through its daemon`);
      return { ...sample, cpuMs: sample.cpuMs! + daemonCpuMs, daemonCpuMs, requests: proxy.counts.s3 };
    };
    await commit();
    await push();
    return { commit, push, ownCpu };
  };
  const servedFolders = [{ label: "", folder: await servedFolder("pushes-daemon", ROOT) }];
  if (BASELINE) servedFolders.push({ label: ` (${BASELINE})`, folder: await servedFolder("pushes-daemon-baseline", BASELINE) });

  // Warm-up: one run of each fills the compile cache, as the first run after an install does.
  if (!ONLY_PUSH) for (const args of [["--version"], ["status", "--help"], ["status", folder]]) await run([CLOUDBRIDGE, ...args], { env });
  await run(CLI_VERSION, { env: cached });
  await commit();
  await pushAll();
  for (const { folder } of servedFolders) {
    await folder.commit();
    await folder.push();
  }

  console.log(
    `Node ${process.version}, git ${(await gitText(["--version"])).replace("git version ", "")}, ${FILES} files in the folder, ` +
      `load average ${(await readFile("/proc/loadavg", "utf8").catch(() => "?")).split(" ").slice(0, 3).join(" ")}` +
      (existsSync(GNU_TIME) ? "" : "; no peak RSS: GNU time is not installed (apt-get install time)"),
  );

  if (!ONLY_PUSH && !ONLY_CLI)
    await compare("Start-up of the CLI", [
      { label: "node (empty script)", run: () => run([NODE, "-e", ""], { env }) },
      { label: "cloudbridge --version", against: "node (empty script)", run: () => run([CLOUDBRIDGE, "--version"], { env }) },
      { label: "the CLI's --version (Node, commander)", against: "node (empty script)", run: () => run(CLI_VERSION, { env: cached }) },
      {
        label: "the CLI's --version, no compile cache",
        against: "node (empty script)",
        run: () => run(CLI_VERSION, { env: noCache }),
      },
      { label: "cloudbridge status --help", against: "node (empty script)", run: () => run([CLOUDBRIDGE, "status", "--help"], { env }) },
    ]);

  if (!ONLY_PUSH && !ONLY_CLI)
    await compare(`A no-op status of a ${FILES}-file folder`, [
      { label: "git status", run: () => run(["git", "status", "--short"], { cwd: folder, env }) },
      { label: "cloudbridge status", against: "git status", run: () => run([CLOUDBRIDGE, "status", folder], { env }) },
    ]);

  if (!ONLY_PUSH) {
    // Each command as bin/cloudbridge runs it (the bundle), from the sources, and through BENCH_BASELINE's
    // launcher; every command has had its warm-up run, so each has its own code cache as after a first use.
    const notSetUp = join(work, "not-set-up");
    await mkdir(notSetUp);
    const served = join(work, "pushes-daemon");
    // Each init makes a folder and a repository of its own (an init of one that exists is refused).
    let inits = 0;
    const newInit = () => {
      inits += 1;
      return ["init", join(work, `init-${inits}`), "--remote", `s3://${info.bucket}/init-${inits}`, "--listen", "poll", "--json"];
    };
    const everyday: Array<{ name: string; args: string[] | (() => string[]); cwd?: string; failing?: true }> = [
      { name: "status", args: ["status", folder] },
      { name: "status --json", args: ["status", "--json", folder] },
      { name: "status, the folder's daemon running", args: ["status", served] },
      { name: "status of a folder not set up", args: ["status", notSetUp], failing: true },
      { name: "log", args: ["log", folder] },
      { name: "conflicts", args: ["conflicts", folder] },
      { name: "versions", args: ["versions", "note-1.txt"], cwd: folder },
      { name: "whereis", args: ["whereis", "--dir", folder] },
      { name: "init --remote (a new, empty folder)", args: newInit },
    ];
    const fromSources = { ...env, CLOUDBRIDGE_CLI_FROM_SOURCE: "1" };
    const launchers = [
      { how: "bundled", cli: CLOUDBRIDGE, env },
      { how: "sources", cli: CLOUDBRIDGE, env: fromSources },
      ...(BASELINE ? [{ how: `${BASELINE}'s launcher`, cli: join(BASELINE, "bin/cloudbridge"), env }] : []),
    ];
    const contenders: Contender[] = everyday.flatMap(({ name, args, cwd, failing }) =>
      launchers.map(({ how, cli, env: runEnv }) => ({
        label: `cloudbridge ${name} (${how})`,
        ...(how === "sources" ? {} : { against: `cloudbridge ${name} (sources)` }),
        run: () =>
          run([cli, ...(typeof args === "function" ? args() : args)], {
            env: runEnv,
            ...(cwd ? { cwd } : {}),
            ...(failing ? { failing } : {}),
          }),
      })),
    );
    for (const contender of contenders) await contender.run();
    await compare("The CLI's everyday commands: bundled (as bin/cloudbridge runs them) against their sources", contenders);
  }

  // Each round makes one commit, which each contender pushes.
  const push = (name: Pusher) => async (): Promise<Sample> => {
    proxy.reset();
    const sample = await run(["git", "push", "-q", "origin", "main"], { cwd: repoOf(name), env: contenders[name]!.env });
    return name.startsWith("native") ? sample : { ...sample, requests: proxy.counts.s3 };
  };
  const NATIVE = "git push (native, local bare repository)";
  const NATIVE_HTTP = "git push (native, git's smart HTTP to a git http-backend on this machine)";
  const HELPER = "git push through git-remote-cloudbridge (bundled, as installed)";
  if (!ONLY_CLI) {
    const pushes = await compare(
      "git push of one commit",
      [
        { label: NATIVE, run: push("native") },
        { label: NATIVE_HTTP, against: NATIVE, run: push("native-http") },
        { label: HELPER, against: NATIVE, run: push("cloud") },
        { label: "the same, the helper from its TypeScript sources", against: NATIVE, run: push("cloud-source") },
        { label: "the same, the helper on the AWS SDK's S3 client", against: NATIVE, run: push("cloud-sdk") },
        ...(BASELINE ? [{ label: `the same, ${BASELINE}'s helper (bundled)`, against: NATIVE, run: push("cloud-baseline") }] : []),
        ...servedFolders.map(({ label, folder }) => ({
          label: `the same in a synced folder, the helper handing the push to its daemon${label} (CPU time: the command's + the daemon's)`,
          against: NATIVE,
          run: folder.push,
        })),
        // No helper written for Node can take less: git with a helper that does nothing, and Node alone.
        { label: "git push through a Node helper that stores nothing (the floor)", against: NATIVE, run: push("null-helper") },
        { label: "node (empty script)", against: NATIVE, run: () => run([NODE, "-e", ""], { env }) },
      ],
      async () => {
        await commit();
        for (const { folder } of servedFolders) await folder.commit();
      },
    );
    // The helper crosses a network protocol to its bucket; git's own transport over HTTP is its native peer
    // in that, beside the local bare repository, which crosses none.
    console.log(
      `\nThe helper alone against git's own HTTP transport, in the same rounds: ${(pushes.get(HELPER)! / pushes.get(NATIVE_HTTP)!).toFixed(2)}×`,
    );
    for (const { label, folder } of servedFolders)
      console.log(
        `\nThe daemon's own process per push${label} (its log, process.cpuUsage; the git processes it ran aside): list ${ms(median(folder.ownCpu["helper.listed"]!))}, push ${ms(median(folder.ownCpu["helper.pushed"]!))} (medians of ${folder.ownCpu["helper.pushed"]!.length}, warm-ups included)`,
      );
  }
  await proxy.stop();
} finally {
  for (const daemon of servingDaemons) {
    if (daemon.exitCode !== null || daemon.signalCode !== null) continue;
    const exited = new Promise((gone) => daemon.once("exit", gone));
    daemon.kill();
    await exited;
  }
  gitHttpServer?.kill();
  cloudProcess.kill();
  await rm(work, { recursive: true, force: true });
}
