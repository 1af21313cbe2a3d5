import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdir, readdir, utimes, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { isDeepStrictEqual } from "node:util";
import { after, before, describe, it } from "node:test";
import { agentEnv, cli, cliOk, startDaemon, waitUntil, type Daemon } from "../helpers/agents.ts";
import { exists, snapshot } from "../helpers/folders.ts";
import { tempDir } from "../helpers/git.ts";
import { startTestCloud, type TestCloud } from "../helpers/local-cloud.ts";

/**
 * What ordinary machines do to a running agent: a person runs `cloudbridge sync` by hand beside the daemon,
 * mounts a subfolder read-only, has a clock that is days off, and names files the way the agent names its
 * temporary files. Each through the real CLI and daemon against the local cloud.
 */
describe("a daemon on an ordinary machine", () => {
  let scratch: { path: string; remove(): Promise<void> };
  let t: TestCloud;
  let env: Record<string, string>;
  const daemons: Daemon[] = [];
  const mounts: string[] = [];
  before(async () => {
    scratch = await tempDir("e2e-ordinary");
    t = await startTestCloud();
    env = agentEnv(t.cloud.env);
  });
  after(async () => {
    for (const d of daemons) await d.stop();
    for (const m of mounts.reverse()) execFileSync("umount", [m]);
    await t.stop();
    await scratch.remove();
  });

  /** Waits until `dir` holds exactly `expected`; otherwise fails showing the difference and the daemon's log. */
  const converges = async (dir: string, expected: Record<string, string>, daemon: Daemon, poke?: () => Promise<unknown>) => {
    const deadline = Date.now() + 30_000;
    for (;;) {
      await poke?.();
      const now = await snapshot(dir);
      if (isDeepStrictEqual(now, expected)) return;
      if (Date.now() > deadline) {
        assert.deepEqual(now, expected, `${dir} did not converge; daemon log:\n${daemon.events.map((e) => JSON.stringify(e)).join("\n")}`);
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, 300));
    }
  };

  const folders = async (repo: string) => {
    const url = `s3://cloudbridge/${repo}`;
    const A = join(scratch.path, repo, "a");
    const B = join(scratch.path, repo, "b");
    await cliOk(["init", A, "--remote", url, "--listen", "poll", "--poll-interval", "1"], env);
    await cliOk(["clone", url, B, "--listen", "poll", "--poll-interval", "1"], env);
    return { url, A, B };
  };

  it("tolerates `cloudbridge sync` run by hand while it runs: no wedge, nothing lost", async () => {
    const { A, B } = await folders("hand-sync");
    // A debounce long enough that the hand-run sync commits first, and the daemon finds `main` moved under it.
    const daemon = await startDaemon(A, env, ["--debounce", "1500"]);
    daemons.push(daemon);
    for (let i = 0; i < 4; i++) {
      // A file the hand-run sync commits, and one the daemon's watcher hears of at the same moment.
      await writeFile(join(A, `hand-${i}.txt`), `hand ${i}\n`);
      const hand = cli(["sync", A], env);
      await writeFile(join(A, `beside-${i}.txt`), `beside ${i}\n`);
      await writeFile(join(B, `from-b-${i}.txt`), `from b ${i}\n`);
      await cliOk(["sync", B], env);
      const result = await hand;
      if (process.env.CLOUDBRIDGE_TEST_VERBOSE) process.stderr.write(`hand sync ${i}: ${result.code}\n`);
      assert.ok(result.code === 0, `the hand-run sync failed beside the daemon:\n${result.stderr}`);
    }
    // The daemon still syncs on its own afterwards.
    await writeFile(join(A, "after.txt"), "after\n");
    const expected: Record<string, string> = { "after.txt": "after\n" };
    for (let i = 0; i < 4; i++) {
      expected[`hand-${i}.txt`] = `hand ${i}\n`;
      expected[`beside-${i}.txt`] = `beside ${i}\n`;
      expected[`from-b-${i}.txt`] = `from b ${i}\n`;
    }
    await converges(B, expected, daemon, () => cliOk(["sync", B], env));
    await converges(A, expected, daemon);
    const status = JSON.parse((await cliOk(["status", A, "--json"], env)).stdout) as { daemon?: { lastError?: string } };
    assert.equal(status.daemon?.lastError, undefined, "the daemon's last round succeeded");
  });
});
