import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { GetSecretValueCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { App } from "aws-cdk-lib";
import { buildApp } from "../../cdk/app.ts";
import { agentOutputKeys } from "../../protocol/index.ts";
import { CDK_CONTEXT } from "./cdk.ts";

/** The shipped configuration with two agents, each with its own repository. */
export const TWO_AGENTS = {
  repos: ["notes", "photos"],
  agents: [
    { name: "alice", repos: ["notes"] },
    { name: "bob", repos: ["photos"] },
  ],
};

/**
 * The same two agents as the stack holds them at scale: spread over two nested stacks (alice and bob land
 * in different ones), with XMPP configured, so its secret is one more an agent must not read. Nobody
 * listens at the XMPP service: the XMPP function's failures stay in the rehearsal's stderr.
 */
export const TWO_AGENTS_NESTED = {
  ...TWO_AGENTS,
  agentStacks: 2,
  xmpp: { service: "xmpp://127.0.0.1:9", notifier: "notifier@localhost", recipients: ["alice@localhost"], maxConcurrency: 0 },
};

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

/**
 * Synthesizes the real CDK app, bundles included (the rehearsal runs what `cdk deploy` would upload), into
 * a temporary cdk.out that is removed when the test process ends (or again into `into`, the same folder, for
 * an update). Slow (~6 s): once per test file.
 */
export function synthCloudAssembly(cloudbridge: unknown, into?: string): string {
  process.env.CDK_VALIDATION = "false";
  const outdir = into ?? mkdtempSync(join(tmpdir(), "cloudbridge-stack-"));
  if (!into) process.once("exit", () => rmSync(outdir, { recursive: true, force: true }));
  const app = new App({ outdir, context: { ...CDK_CONTEXT, cloudbridge } });
  buildApp(app);
  app.synth();
  return outdir;
}

export interface RunningStack {
  endpoint: string;
  region: string;
  stackName: string;
  outputs: Record<string, string>;
  /** The nested stacks (agents with `agentStacks`), each with its outputs. */
  nestedStacks: { stackName: string; stackId: string; outputs: Record<string, string> }[];
  /** An agent's `Agent<Name>...` outputs, from whichever stack holds it (the main stack or a nested one). */
  agentOutputs(agent: string): { queueUrl: string; credentialsSecretArn: string; repos: string };
  /** The administrator's environment, as printed. */
  env: Record<string, string>;
  notRehearsed: string[];
  /** The rehearsal's process (its functions run in its worker threads). */
  pid: number;
  /** What the rehearsal logged on stderr so far (refusals, function failures). */
  stderr(): string;
  /**
   * Applies the cloud assembly as synthesized again into the same folder (SIGHUP, as a person would):
   * resolves with the update's lines once the rehearsal says it is done.
   */
  update(): Promise<string>;
  /** An agent's key, read as the administrator from the secret the stack's output names. */
  agentCredentials(agent: string): Promise<{ accessKeyId: string; secretAccessKey: string }>;
  stop(): Promise<void>;
}

/** Runs `cloudbridge local --stack <cdkOut> --json` as a person would, and reads what it prints. */
export async function startStack(cdkOut: string, extraArgs: string[] = []): Promise<RunningStack> {
  const child: ChildProcess = spawn(join(ROOT, "bin/cloudbridge"), ["local", "--port", "0", "--json", "--stack", cdkOut, ...extraArgs], {
    cwd: ROOT,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, PATH: `${join(ROOT, "node_modules/.bin")}:${process.env.PATH ?? ""}` },
  });
  let stderr = "";
  child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString("utf8")));
  const line = await new Promise<string>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    lines.once("line", resolve);
    child.once("exit", (code) => reject(new Error(`cloudbridge local --stack exited ${code}:\n${stderr}`)));
  });
  const started = JSON.parse(line) as Omit<RunningStack, "stderr" | "stop" | "agentCredentials" | "agentOutputs" | "region" | "pid">;
  const agentOutputs = (agent: string) => {
    const keys = agentOutputKeys(agent);
    const outputs = [started.outputs, ...started.nestedStacks.map((n) => n.outputs)].find((o) => keys.queueUrl in o);
    if (!outputs) throw new Error(`no stack of the rehearsal has the outputs of agent ${agent}`);
    return { queueUrl: outputs[keys.queueUrl]!, credentialsSecretArn: outputs[keys.credentialsSecretArn]!, repos: outputs[keys.repos]! };
  };
  const region = started.env.AWS_REGION!;
  const admin = new SecretsManagerClient({
    region,
    endpoint: started.endpoint,
    credentials: { accessKeyId: started.env.AWS_ACCESS_KEY_ID!, secretAccessKey: started.env.AWS_SECRET_ACCESS_KEY! },
  });
  return {
    ...started,
    region,
    pid: child.pid!,
    stderr: () => stderr,
    update: () => {
      const from = stderr.length;
      child.kill("SIGHUP");
      return new Promise<string>((resolve, reject) => {
        const look = () => {
          const said = stderr.slice(from);
          const at = said.search(/cloudbridge local: stack (updated|update refused)/);
          if (at >= 0 && said.endsWith("\n")) {
            child.stderr!.off("data", look);
            const text = said.slice(at);
            if (text.startsWith("cloudbridge local: stack updated")) resolve(text);
            else reject(new Error(text));
          }
        };
        child.stderr!.on("data", look);
        look();
      });
    },
    agentOutputs,
    agentCredentials: async (agent) => {
      const { SecretString } = await admin.send(new GetSecretValueCommand({ SecretId: agentOutputs(agent).credentialsSecretArn }));
      return JSON.parse(SecretString!) as { accessKeyId: string; secretAccessKey: string };
    },
    stop: async () => {
      admin.destroy();
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once("exit", resolve));
        child.kill("SIGTERM");
        await exited;
      }
    },
  };
}
