import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { runDaemon } from "../../../agent/daemon.ts";
import { agentEnv, cliOk, waitUntil } from "../../helpers/agents.ts";
import { tempDir } from "../../helpers/git.ts";
import { startTestCloud, type TestCloud } from "../../helpers/local-cloud.ts";

/**
 * Rounds never overlap: a round asked while one runs is queued, and every later ask joins it. Those callers
 * share one round, so the daemon says it once: one `sync` line per round, however many asked for it.
 */
describe("a queued round joined by several callers", () => {
  let scratch: { path: string; remove(): Promise<void> };
  let t: TestCloud;
  const saved = { ...process.env };
  before(async () => {
    scratch = await tempDir("round-said-once");
    t = await startTestCloud();
  });
  after(async () => {
    process.env = saved;
    await t.stop();
    await scratch.remove();
  });

  it("is one sync line", async () => {
    const env = agentEnv(t.cloud.env);
    const dir = join(scratch.path, "folder");
    await cliOk(["init", dir, "--remote", "s3://cloudbridge/said-once"], env);
    // The daemon runs in this process (its debug events are read here), with the agent's environment.
    Object.assign(process.env, env);
    let stop!: () => void;
    const stopped = new Promise<void>((done) => (stop = done));
    const events: Array<{ event: string; fields: Record<string, unknown> }> = [];
    let ready!: () => void;
    const isReady = new Promise<void>((done) => (ready = done));
    const running = runDaemon(dir, {
      log: (_level, event, fields) => events.push({ event, fields: fields ?? {} }),
      stopped,
      uiPort: "off",
      onReady: () => ready(),
    });
    // Another process holds the folder (as a `cloudbridge sync` by hand would): the next round waits for it.
    const holder = spawn("sleep", ["600"], { stdio: "ignore" });
    try {
      await Promise.race([isReady, running]);
      const asked = () => events.filter((e) => e.event === "round.asked" && e.fields.why === "local").length;
      await writeFile(join(dir, ".git", "cloudbridge", "folder-lock.pid"), `${holder.pid}\n`);
      await writeFile(join(dir, "first.txt"), "the round that runs\n");
      await waitUntil(() => asked() === 1, "the round for first.txt to be asked (it waits for the folder)");
      // Two more changes, each its own watcher batch: the first queues a round, the second joins it.
      await writeFile(join(dir, "second.txt"), "queued\n");
      await waitUntil(() => asked() === 2, "a round for second.txt to be queued");
      await writeFile(join(dir, "third.txt"), "joins the queued round\n");
      await waitUntil(() => asked() === 3, "a round for third.txt to join the queued one");
      holder.kill();
      const said = (name: string) => events.filter((e) => e.event === "sync" && String(e.fields.message).includes(name));
      await waitUntil(() => said("third.txt").length > 0, "the queued round to be said");
      // Everything the daemon had to say about its rounds is said by the time it stopped.
      stop();
      await running;
      const lines = said("third.txt").map((e) => String(e.fields.message));
      assert.equal(lines.length, 1, `one line for the round the two callers shared: ${JSON.stringify(lines)}`);
      assert.match(lines[0]!, /^sent 2 files \((second|third)\.txt, (second|third)\.txt\)$/);
      assert.equal(said("first.txt").length, 1);
    } finally {
      holder.kill();
      stop();
      await running;
    }
  });
});
