import assert from "node:assert/strict";
import { chmod, chown, lstat, open, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:net";
import { join } from "node:path";
import { describe, it } from "node:test";
import { agentEnv, cli, cliOk, startDaemon, waitUntil, type Daemon } from "../../helpers/agents.ts";
import { emptyReport } from "../../../agent/sync/engine.ts";
import { git } from "../../helpers/git.ts";
import { useAgentCloud } from "../../helpers/test-bed.ts";

/**
 * `cloudbridge sync` beside a running daemon asks it through the folder's socket instead of scanning the
 * folder itself; whichever way, a sync that returns has pushed every change made before it started. A
 * "nothing to do" while something changed would lose that change for the person who then switches the
 * machine off: each case below changes a file just before `sync` and reads the bucket's `main` after it.
 * The daemons wait 10 minutes between reports of changes (`--debounce`) and between full rounds, so only
 * the round `sync` asked for can have pushed a change made after the first report.
 */
const QUIET = ["--debounce", "600000", "--reconcile-interval", "600", "--ui-port", "off"];

describe("cloudbridge sync beside a daemon", () => {
  const cloud = useAgentCloud("sync-asks-daemon");
  // The daemon's rounds at debug level say why they ran ("asked": a `cloudbridge sync` through the socket).
  const daemonEnv = () => agentEnv(cloud.t.cloud.env, { CLOUDBRIDGE_LOG_LEVEL: "debug" });
  const daemon = (dirs: string[], flags: string[] = []) => startDaemon(dirs[0]!, daemonEnv(), [...dirs.slice(1), ...QUIET, ...flags]);
  const asked = (d: Daemon) => d.events.filter((e) => e.event === "round.asked" && e.why === "asked").length;
  /** What the bucket's `main` holds at `path`, as the folder last fetched or pushed it. */
  const pushed = (dir: string, path: string) => git(dir, "show", `refs/remotes/cloud/main:${path}`).catch(() => undefined);
  const init = async (name: string) => {
    const dir = cloud.path(name);
    await cliOk(["init", dir, "--remote", `s3://cloudbridge/${name}`], cloud.env);
    return dir;
  };

  it("is answered by the daemon, with what changed just before, including changes the watcher still holds back", async () => {
    const dir = await init("answered");
    const d = await daemon([dir]);
    try {
      const socket = await lstat(join(dir, ".git", "cloudbridge", "daemon.sock"));
      assert.ok(socket.isSocket());
      assert.equal(socket.mode & 0o777, 0o600, "only the owner may connect");

      const quiet = await cliOk(["sync", dir, "--json"], cloud.env);
      assert.equal(asked(d), 1, "the daemon did the sync");
      assert.equal(JSON.parse(quiet.stdout).committed, undefined);

      for (let i = 0; i < 3; i += 1) {
        // The first write is reported at once; the second, within the debounce, is held back for 10 minutes.
        await writeFile(join(dir, `first-${i}.txt`), `first ${i}`);
        await writeFile(join(dir, "changing.txt"), `version ${i}`);
        const result = await cliOk(["sync", dir, "--json"], cloud.env);
        assert.equal(await pushed(dir, "changing.txt"), `version ${i}`, `round ${i}: the change made just before sync is in the bucket`);
        assert.equal(await pushed(dir, `first-${i}.txt`), `first ${i}`);
        assert.equal(JSON.parse(result.stdout).head, (await git(dir, "rev-parse", "refs/remotes/cloud/main")).trim());
      }
      assert.equal(asked(d), 4);

      await cliOk(["pause", dir], cloud.env);
      const paused = await cli(["sync", dir], cloud.env);
      assert.equal(paused.code, 2, paused.stderr);
      assert.match(paused.stderr, /is paused: nothing was synced/);
      await cliOk(["resume", dir], cloud.env);
    } finally {
      await d.stop();
    }
  });

  it("commits a file the daemon was letting settle (still open for writing), as a sync without a daemon does", async () => {
    const dir = await init("settling");
    // Every event reported (no debounce to speak of), so the watcher holds nothing back when `sync` asks.
    const d = await daemon([dir], ["--settle", "600000", "--debounce", "20"]);
    const file = await open(join(dir, "being-written.txt"), "w");
    try {
      await file.writeFile("written so far");
      // The daemon's own rounds saw it, young and open for writing, and left it to settle.
      await new Promise((resolve) => setTimeout(resolve, 500));
      const idle = () => {
        const steps = d.events.filter((e) => e.event === "round.step" || e.event === "round.asked");
        return steps.some((e) => e.why === "local") && steps.at(-1)?.step === "released";
      };
      await waitUntil(idle, "the daemon's rounds over the new file");
      assert.equal(await pushed(dir, "being-written.txt"), undefined, "left to settle by the daemon");
      await cliOk(["sync", dir], cloud.env);
      assert.equal(await pushed(dir, "being-written.txt"), "written so far");
    } finally {
      await file.close();
      await d.stop();
    }
  });

  it("syncs by itself when the daemon died and left its socket, and a new daemon takes the socket over", async () => {
    const dir = await init("died");
    const first = await daemon([dir]);
    await first.kill9();
    assert.ok((await lstat(join(dir, ".git", "cloudbridge", "daemon.sock"))).isSocket(), "kill -9 leaves the socket behind");

    await writeFile(join(dir, "after-death.txt"), "written while no daemon runs");
    const alone = await cliOk(["sync", dir, "--json"], cloud.env);
    assert.doesNotMatch(alone.stderr, /daemon/, "a socket nobody listens on is no daemon: nothing to say");
    assert.equal(await pushed(dir, "after-death.txt"), "written while no daemon runs");

    const second = await daemon([dir]);
    try {
      await writeFile(join(dir, "after-restart.txt"), "asked of the new daemon");
      await cliOk(["sync", dir], cloud.env);
      assert.equal(asked(second), 1);
      assert.equal(await pushed(dir, "after-restart.txt"), "asked of the new daemon");
    } finally {
      await second.stop();
    }
  });

  it("does not trust a socket open to others or owned by another user: it syncs by itself", async () => {
    const dir = await init("untrusted");
    const path = join(dir, ".git", "cloudbridge", "daemon.sock");
    // Whatever listens there says "nothing to do": trusted, that would leave the change unsynced.
    const liar: Server = createServer((socket) =>
      socket.resume().end(
        `${JSON.stringify({
          ok: true,
          value: { ...emptyReport(), downloadsPending: 0, uploadsPending: 0, notDownloaded: [], contentNotUploaded: [] },
        })}\n`,
      ),
    );
    await new Promise<void>((listening) => liar.listen(path, listening));
    try {
      const cases: Array<{ what: string; set: () => Promise<void>; said: RegExp }> = [
        {
          what: "open to others",
          set: () => chmod(path, 0o666),
          said: /open to other users \(mode 666\): not trusted; syncing without the daemon/,
        },
      ];
      // The tests run as root, who can give the socket away; another user checks the mode only.
      if (process.getuid?.() === 0)
        cases.push({
          what: "another user's",
          set: async () => {
            await chmod(path, 0o600);
            await chown(path, 4321, 4321);
          },
          said: /belongs to user 4321, not to you \(0\): not trusted/,
        });
      for (const [i, { what, set, said }] of cases.entries()) {
        await set();
        await writeFile(join(dir, `changed-${i}.txt`), `${what}`);
        const result = await cliOk(["sync", dir, "--json"], cloud.env);
        assert.match(result.stderr, said, what);
        assert.equal(await pushed(dir, `changed-${i}.txt`), `${what}`, `${what}: the change is synced`);
      }
    } finally {
      await new Promise((closed) => liar.close(closed));
    }
  });

  it("asks the daemon of the folder it syncs: a second folder served by the same daemon, and one served by none", async () => {
    const a = await init("second-a");
    const b = await init("second-b");
    const c = await init("second-c");
    const d = await daemon([a, b]);
    try {
      await writeFile(join(b, "first.txt"), "reported at once");
      await writeFile(join(b, "in-b.txt"), "held back in b");
      await cliOk(["sync", b], cloud.env);
      assert.equal(await pushed(b, "in-b.txt"), "held back in b");
      assert.equal(await pushed(a, "in-b.txt"), undefined, "folder a is another repository");
      assert.equal(asked(d), 1);

      await writeFile(join(c, "in-c.txt"), "no daemon here");
      await cliOk(["sync", c], cloud.env);
      assert.equal(await pushed(c, "in-c.txt"), "no daemon here");
      assert.equal(asked(d), 1, "the daemon of a and b was not asked for c");
    } finally {
      await d.stop();
    }
  });
});
