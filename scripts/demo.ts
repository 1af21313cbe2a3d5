// `npm start`: the cloud on this machine, and a first machine ("alice") syncing demo/alice through it.
// `npm run join [-- NAME]`: a second machine (default "bob") that joins it in demo/NAME.
// Both are ordinary `cloudbridge` commands run as child processes; this script only strings them together
// and says what to do next. Ctrl-C stops what it started.
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const project = fileURLToPath(new URL("..", import.meta.url));
const main = join(project, "agent", "cli", "main.ts");
const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { port: { type: "string", default: "4566" }, root: { type: "string", default: project } },
});
const root = resolve(values.root!);
const demo = join(root, "demo");
const stateFile = join(demo, ".cloud.json");
const url = "s3://cloudbridge/demo";

interface CloudInfo {
  endpoint: string;
  topicArn: string;
  env: Record<string, string>;
}

function run(args: string[], env: NodeJS.ProcessEnv, stdio: "inherit" | "pipe" = "inherit"): ChildProcess {
  return spawn(process.execPath, ["--disable-warning=ExperimentalWarning", main, ...args], {
    env,
    stdio: ["ignore", stdio, "inherit"],
    cwd: root,
  });
}

function finished(child: ChildProcess): Promise<number> {
  return new Promise((done) => child.once("exit", (code) => done(code ?? 1)));
}

async function once(args: string[], env: NodeJS.ProcessEnv): Promise<void> {
  const code = await finished(run(args, env));
  if (code !== 0) throw new Error(`cloudbridge ${args.join(" ")} failed (exit ${code})`);
}

function stopOnSignal(children: ChildProcess[]): Promise<void> {
  return new Promise((done) => {
    const stop = () => {
      for (const child of [...children].reverse()) if (child.exitCode === null) child.kill("SIGTERM");
      void Promise.all(children.map(finished)).then(() => done());
    };
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
  });
}

async function startCloud(): Promise<{ cloud: ChildProcess; info: CloudInfo }> {
  const cloud = run(["local", "--port", values.port!, "--data", join(root, ".cloudbridge-local"), "--json"], process.env, "pipe");
  const info = await new Promise<CloudInfo>((ok, fail) => {
    let text = "";
    cloud.stdout!.on("data", (chunk: Buffer) => {
      text += chunk.toString();
      if (text.includes("\n")) ok(JSON.parse(text.split("\n")[0]!) as CloudInfo);
    });
    // Its own error (above) names `cloudbridge local`'s flag; the person typed `npm start`, whose flag goes after `--`.
    cloud.once("exit", (code) =>
      fail(
        new Error(
          `cloudbridge local exited (${code}) before it was ready (its port taken? \`npm start -- --port 0\` runs it on a free port).`,
        ),
      ),
    );
  });
  return { cloud, info };
}

async function first(): Promise<void> {
  const { cloud, info } = await startCloud();
  const env = { ...process.env, ...info.env };
  mkdirSync(demo, { recursive: true });
  writeFileSync(stateFile, JSON.stringify(info));
  const alice = join(demo, "alice");
  if (!existsSync(join(alice, ".git", "cloudbridge"))) {
    mkdirSync(alice, { recursive: true });
    writeFileSync(join(alice, "hello.txt"), "Hello from alice. Drop files into this folder and watch them appear in demo/bob.\n");
    await once(["init", alice, "--remote", url, "--topic-arn", info.topicArn, "--listen", "sqs", "--description", "alice (demo)"], env);
  }
  const daemon = run(["daemon", alice, "--debounce", "200"], env);
  const lines = [
    "",
    "cloudbridge demo: the cloud runs on this machine and a daemon keeps demo/alice in sync through it.",
    "",
    "Start a second machine that joins it, in another terminal:",
    "  npm run join            (demo/bob; or: npm run join -- carol)",
    "",
    "Then drop a file into demo/alice: within a second or two it appears in demo/bob, and back.",
    "Look around: bin/cloudbridge status demo/alice, bin/cloudbridge log demo/alice --files.",
    "The bucket's objects are plain files under .cloudbridge-local/s3/buckets/cloudbridge/objects/.",
    "Press Ctrl-C to stop.",
    "",
  ];
  process.stdout.write(`${lines.join("\n")}\n`);
  await stopOnSignal([cloud, daemon]);
}

async function join_(name: string): Promise<void> {
  if (!existsSync(stateFile)) throw new Error("the demo is not running: start it with `npm start` first.");
  const info = JSON.parse(readFileSync(stateFile, "utf8")) as CloudInfo;
  const env = { ...process.env, ...info.env };
  const folder = join(demo, name);
  if (!existsSync(join(folder, ".git", "cloudbridge"))) {
    await once(["clone", url, folder, "--topic-arn", info.topicArn, "--listen", "sqs", "--description", `${name} (demo)`], env);
  }
  const daemon = run(["daemon", folder, "--debounce", "200"], env);
  process.stdout.write(
    `\n${name} is syncing demo/${name}. Change files in demo/alice or demo/${name} and watch the other side. Ctrl-C stops it.\n\n`,
  );
  await stopOnSignal([daemon]);
}

try {
  if (positionals[0] === "join") await join_(positionals[1] ?? "bob");
  else await first();
} catch (error) {
  process.stderr.write(`demo: ${(error as Error).message}\n`);
  process.exitCode = 1;
}
