/**
 * Shared by the agent benchmarks: `cloudbridge local` in its own process (as a real endpoint would be),
 * an HTTP proxy in front of it that counts requests per AWS service (what an idle daemon would be billed
 * for), and the CLI as child processes.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createS3Client, S3ObjectStore } from "../objectstore/index.ts";

export const MAIN = fileURLToPath(new URL("../agent/cli/main.ts", import.meta.url));

export interface BenchCloud {
  endpoint: string;
  topicArn: string;
  env: Record<string, string>;
  stop(): Promise<void>;
}

/** `main`: another checkout's agent/cli/main.ts, to run its local cloud (a baseline). */
export async function startCloudProcess(extra: string[] = [], env: Record<string, string> = {}, main = MAIN): Promise<BenchCloud> {
  const child = spawn(process.execPath, ["--disable-warning=ExperimentalWarning", main, "local", "--port", "0", "--json", ...extra], {
    stdio: ["ignore", "pipe", "inherit"],
    env: { ...process.env, ...env },
  });
  const info = await new Promise<{ endpoint: string; topicArn: string; env: Record<string, string> }>((ok, fail) => {
    let text = "";
    child.stdout!.on("data", (c: Buffer) => {
      text += c.toString();
      if (text.includes("\n")) ok(JSON.parse(text.split("\n")[0]!));
    });
    child.once("exit", (code) => fail(new Error(`cloudbridge local exited ${code}`)));
  });
  return { ...info, stop: () => stopChild(child, "SIGINT") };
}

/** The bucket of a cloud started by startCloudProcess, reached with the SDK as the agent reaches it. */
export function benchCloudStore(cloud: BenchCloud, bucket = "cloudbridge"): S3ObjectStore {
  return new S3ObjectStore(
    bucket,
    createS3Client({
      endpoint: cloud.env.AWS_ENDPOINT_URL!,
      region: cloud.env.AWS_REGION ?? "us-east-1",
      credentials: { accessKeyId: cloud.env.AWS_ACCESS_KEY_ID!, secretAccessKey: cloud.env.AWS_SECRET_ACCESS_KEY! },
    }),
  );
}

export function stopChild(child: ChildProcess, signal: NodeJS.Signals = "SIGTERM"): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((done) => {
    child.once("exit", () => done());
    child.kill(signal);
  });
}

export { startCountingProxy, type CountingProxy } from "../test/helpers/counting-proxy.ts";

export function cloudbridge(args: string[], env: Record<string, string>, options: { quiet?: boolean; main?: string } = {}): Promise<void> {
  return new Promise((ok, fail) => {
    const child = spawn(process.execPath, ["--disable-warning=ExperimentalWarning", options.main ?? MAIN, ...args], {
      env: { ...process.env, ...env },
      stdio: ["ignore", options.quiet ? "ignore" : "inherit", "inherit"],
    });
    child.once("exit", (code) => (code === 0 ? ok() : fail(new Error(`cloudbridge ${args.join(" ")} exited ${code}`))));
  });
}

/**
 * The daemon as a child process, and a promise of its `daemon.ready` log line. `launcher` runs it another
 * way (e.g. bin/cloudbridge, with the Node flags it sets); `onLog` is given each of its log lines.
 */
export function daemon(
  dir: string,
  env: Record<string, string>,
  flags: string[],
  launcher: string[] = [process.execPath, "--disable-warning=ExperimentalWarning", MAIN],
  onLog?: (line: string) => void,
): { child: ChildProcess; ready: Promise<void> } {
  const [program, ...args] = launcher;
  const child = spawn(program!, [...args, "daemon", dir, "--json-log", ...flags], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "ignore", "pipe"],
  });
  const ready = new Promise<void>((ok, fail) => {
    let partial = "";
    const seen: string[] = [];
    let isReady = false;
    child.stderr!.on("data", (c: Buffer) => {
      const lines = (partial + c.toString()).split("\n");
      partial = lines.pop()!;
      for (const line of lines) {
        onLog?.(line);
        if (isReady) continue;
        seen.push(line);
        if (line.includes('"daemon.ready"')) {
          isReady = true;
          seen.length = 0;
          ok();
        }
      }
    });
    child.once("exit", (code) => fail(new Error(`daemon exited ${code}: ${seen.join("\n")}`)));
  });
  return { child, ready };
}

export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** Daemons started one after another, each waited for until ready; `stop` ends those that started. */
export async function startDaemons(
  specs: ReadonlyArray<{ dir: string; env: Record<string, string>; flags?: string[]; onLog?: (line: string) => void; launcher?: string[] }>,
): Promise<{ children: ChildProcess[]; stop(): Promise<void> }> {
  const children: ChildProcess[] = [];
  const stop = async () => {
    for (const child of children.splice(0)) await stopChild(child);
  };
  try {
    for (const { dir, env, flags = [], onLog, launcher } of specs) {
      const d = daemon(dir, env, flags, launcher, onLog);
      children.push(d.child);
      await d.ready;
    }
  } catch (error) {
    await stop();
    throw error;
  }
  return { children, stop };
}

/** Milliseconds from now until `ready` holds (polled every `everyMs`); fails after `limitMs`, naming `what` and `path`. */
export async function arrival(path: string, ready: () => Promise<boolean>, what: string, limitMs = 120_000, everyMs = 5): Promise<number> {
  const start = performance.now();
  for (;;) {
    if (await ready()) return performance.now() - start;
    if (performance.now() - start > limitMs) throw new Error(`${what} did not arrive at ${path} within ${limitMs / 1000} s`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Whether the file at `path` holds exactly `content` now. */
export const holds = (path: string, content: string) => async () => (await readFile(path, "utf8").catch(() => "")) === content;

export const median = (values: number[]): number => percentile(values, 50);

/**
 * Runs every contender once per round, interleaved, so that the ratios between them hold on a machine whose
 * load changes (the development machine is shared); returns each contender's samples in round order.
 * `prepare` runs before each round. With `turnOrder`, every other round runs the contenders in reverse, so
 * that none always runs right after the same neighbour.
 */
export async function interleavedRounds<C extends { run(round: number): Promise<unknown> }>(
  rounds: number,
  contenders: readonly C[],
  options: { prepare?: (round: number) => Promise<void>; turnOrder?: boolean } = {},
): Promise<Map<C, Array<Awaited<ReturnType<C["run"]>>>>> {
  const samples = new Map<C, Array<Awaited<ReturnType<C["run"]>>>>(contenders.map((c) => [c, []]));
  for (let round = 0; round < rounds; round++) {
    await options.prepare?.(round);
    const order = options.turnOrder && round % 2 === 1 ? [...contenders].reverse() : contenders;
    for (const contender of order) samples.get(contender)!.push((await contender.run(round)) as Awaited<ReturnType<C["run"]>>);
  }
  return samples;
}

/** Files of a few hundred bytes, 500 per directory (as a source tree or a photo library is spread). */
export async function populate(dir: string, files: number): Promise<void> {
  for (let i = 0; i < files; i += 500) {
    const sub = join(dir, `d${String(i / 500).padStart(4, "0")}`);
    await mkdir(sub, { recursive: true });
    await Promise.all(
      Array.from({ length: Math.min(500, files - i) }, (_, j) => writeFile(join(sub, `f${j}.txt`), `file ${i + j}\n${"x".repeat(200)}\n`)),
    );
  }
}
