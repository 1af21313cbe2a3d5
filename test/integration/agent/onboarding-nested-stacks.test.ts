import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { getConfig } from "../../../localgit/index.ts";
import { agentEnv, cliOk } from "../../helpers/agents.ts";
import { startStack, synthCloudAssembly, type RunningStack } from "../../helpers/stack-cloud.ts";

/**
 * With `agentStacks`, an agent's outputs are in a nested stack the main stack's outputs name: onboarding
 * finds them there (DescribeStacks on each), and the folders then sync with only their agents' keys.
 */
describe("onboarding from a stack whose agents live in nested stacks", () => {
  let stack: RunningStack;
  let work: string;
  before(async () => {
    const cdkOut = synthCloudAssembly({
      repos: ["notes"],
      agentStacks: 2,
      agents: [
        { name: "alice", repos: ["notes"] },
        { name: "bob", repos: ["notes"] },
      ],
    });
    stack = await startStack(cdkOut);
    work = await mkdtemp(join(tmpdir(), "cloudbridge-onboard-nested-"));
  });
  after(async () => {
    await stack?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it("reads each agent's queue and key from its nested stack; the folders sync with only those keys", async () => {
    assert.ok(stack.outputs.AgentStack1 || stack.outputs.AgentStack2, "the agents are in nested stacks");
    assert.equal(stack.outputs.AgentAliceQueueUrl, undefined);
    const env = (name: string) => agentEnv({}, { AWS_SHARED_CREDENTIALS_FILE: join(work, `${name}-credentials`) });
    const admin = (name: string) => ({ ...env(name), ...stack.env });
    const a = join(work, "a");
    const b = join(work, "b");
    await cliOk(["init", a, "--stack", stack.stackName, "--agent", "alice", "--repo", "notes"], admin("a"));
    await cliOk(["clone", "--stack", stack.stackName, "--agent", "bob", "--repo", "notes", b], admin("b"));
    assert.equal(await getConfig(join(a, ".git"), "cloudbridge.queueUrl"), stack.agentOutputs("alice").queueUrl);
    assert.equal(await getConfig(join(b, ".git"), "cloudbridge.queueUrl"), stack.agentOutputs("bob").queueUrl);
    assert.equal(await getConfig(join(b, ".git"), "cloudbridge.keySecret"), stack.agentOutputs("bob").credentialsSecretArn);
    await writeFile(join(a, "hello.txt"), "hello\n");
    await cliOk(["sync", a], env("a"));
    await cliOk(["sync", b], env("b"));
    assert.equal(await readFile(join(b, "hello.txt"), "utf8"), "hello\n");
  });
});
