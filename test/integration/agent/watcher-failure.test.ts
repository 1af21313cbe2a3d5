import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { runDaemon, type DaemonStatus } from "../../../agent/daemon.ts";
import { folderStatus } from "../../../agent/status/folder-status.ts";
import { renderStatus } from "../../../agent/status/render-status.ts";
import type { Subscribe } from "../../../agent/sync/watcher.ts";
import { agentEnv, cliOk, waitUntil } from "../../helpers/agents.ts";
import { startFaultProxy } from "../../helpers/fault-proxy.ts";
import { git, tempDir } from "../../helpers/git.ts";
import { startTestCloud, type TestCloud } from "../../helpers/local-cloud.ts";
import { inHistory, versionOf } from "../../helpers/versions.ts";

/**
 * A folder watcher that fails (here: past the kernel's limit of inotify watches, the error injected where
 * the native watcher is called, since a test must not lower the machine's limit) is said in the log and
 * in `status`, and the daemon scans the folder at a steady pace instead: a file written afterwards is
 * still committed and pushed without any watcher event.
 */
describe("a daemon whose folder watcher fails", () => {
  let scratch: { path: string; remove(): Promise<void> };
  let t: TestCloud;
  const saved = { ...process.env };
  before(async () => {
    scratch = await tempDir("watcher-failure");
    t = await startTestCloud();
  });
  after(async () => {
    process.env = saved;
    await t.stop();
    await scratch.remove();
  });

  /**
   * A daemon on `dir` whose watcher fails at start, scanning every 0.5 s instead. It runs in this process
   * (so the watcher can be replaced), with the agent's environment `env`.
   */
  const daemonWithoutWatcher = (dir: string, env: Record<string, string>) => {
    Object.assign(process.env, env);
    const limitReached: Subscribe = () => Promise.reject(new Error(`inotify_add_watch on '${dir}/deep' failed: No space left on device`));
    let stop!: () => void;
    const stopped = new Promise<void>((done) => (stop = done));
    const events: Array<{ level: string; event: string; fields?: Record<string, unknown> }> = [];
    let ready!: () => void;
    const isReady = new Promise<void>((done) => (ready = done));
    const running = runDaemon(dir, {
      log: (level, event, fields) => events.push({ level, event, ...(fields ? { fields } : {}) }),
      stopped,
      uiPort: "off",
      onReady: () => ready(),
      subscribe: limitReached,
      scanWithoutWatcherMs: 500,
    });
    return { events, running, ready: Promise.race([isReady, running]), stop };
  };

  it("says so in status and finds local changes by scanning", async () => {
    const env = agentEnv(t.cloud.env);
    const dir = join(scratch.path, "folder");
    await cliOk(["init", dir, "--remote", "s3://cloudbridge/watchless"], env);
    const { events, running, ready, stop } = daemonWithoutWatcher(dir, env);
    try {
      await ready;
      const failed = events.find((e) => e.event === "watch.failed");
      assert.ok(failed, `the failure is logged: ${events.map((e) => e.event).join(", ")}`);
      assert.equal(failed.level, "error");
      assert.match(String(failed.fields?.message), /fs\.inotify\.max_user_watches/);

      const status = await folderStatus(dir, { offline: true });
      const watcher = status.daemon?.watcher as Extract<NonNullable<DaemonStatus["watcher"]>, { state: "failed" }>;
      assert.equal(watcher?.state, "failed");
      assert.match(watcher.error, /limit of inotify watches/);
      assert.equal(watcher.scanEveryS, 0.5);
      const text = renderStatus(status);
      assert.match(text, /folder watcher FAILED since .*limit of inotify watches.*a scan every 0\.5 s instead/);

      // No watcher event will ever come: the periodic scan commits and pushes the new file.
      await writeFile(join(dir, "written-later.txt"), "seen by a scan\n");
      await waitUntil(
        async () =>
          (await git(dir, "ls-tree", "--name-only", "refs/remotes/cloud/main").catch(() => "")).includes("written-later.txt") || undefined,
        "the new file is committed and pushed by a scan",
        20_000,
        100,
      );
    } finally {
      stop();
      await running;
    }
  });

  it("commits the edits its scans find while a round waits on a network that does not answer", async () => {
    const proxy = await startFaultProxy({ target: t.cloud.endpoint, seed: 5 });
    const env = agentEnv(t.cloud.env, { AWS_ENDPOINT_URL: proxy.endpoint });
    const dir = join(scratch.path, "silent");
    await cliOk(["init", dir, "--remote", "s3://cloudbridge/watchless-silent"], env);
    const { events, running, ready, stop } = daemonWithoutWatcher(dir, env);
    try {
      await ready;
      // Requests go unanswered: the scan's round for the first version commits it, then waits on the
      // bucket (the SDK gives a silent request up after its idle timeout, and tries again: minutes in all).
      proxy.setDown("blackhole");
      const versions = [1, 2, 3].map((n) => Buffer.from(`notes, version ${n}\n`));
      const took: number[] = [];
      for (const content of versions) {
        const written = Date.now();
        await writeFile(join(dir, "notes.txt"), content);
        const { blob } = versionOf("notes.txt", content, false);
        await waitUntil(() => inHistory(dir, "main", blob) || undefined, `${content.toString().trim()} committed`, 60_000, 50);
        took.push(Date.now() - written);
        // Committed beside the round that waits, not after it gave up: the next version overwrites this one.
        assert.deepEqual(
          events.filter((e) => e.event === "sync.failed" || e.event === "push"),
          [],
          "the round that met the silent network is still waiting",
        );
      }
      process.stderr.write(`# watcher failed, network silent: each version committed ${took.join(", ")} ms after it was written\n`);
    } finally {
      stop();
      await running;
      await proxy.stop();
    }
  });
});
