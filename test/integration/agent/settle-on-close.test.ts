import assert from "node:assert/strict";
import { open } from "node:fs/promises";
import { join } from "node:path";
import { describe, it } from "node:test";
import { agentEnv, cliOk, startDaemon, waitUntil, type Daemon } from "../../helpers/agents.ts";
import { git } from "../../helpers/git.ts";
import { useAgentCloud } from "../../helpers/test-bed.ts";

/**
 * A file a process is still writing is left to settle by the daemon (not committed half written); once its
 * writer closes it, it is committed then, not when the settle time (`--settle` and `cloudbridge.settleMax`,
 * here 10 minutes) has passed. The daemon's other timers are 10 minutes too, so only the writer's closing can start the round
 * that commits the file.
 */
describe("a file being written beside a running daemon", () => {
  const cloud = useAgentCloud("settle-on-close");
  const pushed = (dir: string, path: string) => git(dir, "show", `refs/remotes/cloud/main:${path}`).catch(() => undefined);
  /** The daemon's rounds asked by the watcher: at least `count` have run, and the last round is over. */
  const idleAfter = (d: Daemon, count: number) => () => {
    const steps = d.events.filter((e) => e.event === "round.step" || e.event === "round.asked");
    return steps.filter((e) => e.why === "local").length >= count && steps.at(-1)?.step === "released";
  };
  const localRounds = (d: Daemon) => d.events.filter((e) => e.event === "round.asked" && e.why === "local").length;

  for (const [name, size] of [
    ["a small file", 20],
    ["a large file (annexed)", 20 * 1024 * 1024],
  ] as const) {
    it(`${name}: left to settle while open for writing, committed once its writer closed it`, async () => {
      const dir = cloud.path(name.replaceAll(/\W+/g, "-"));
      await cliOk(["init", dir, "--remote", `s3://cloudbridge/settle-${size}`], cloud.env);
      // However long a file stays open for writing, it waits 10 minutes before it is committed anyway.
      await git(dir, "config", "cloudbridge.settleMax", "10m");
      const d = await startDaemon(dir, agentEnv(cloud.t.cloud.env, { CLOUDBRIDGE_LOG_LEVEL: "debug" }), [
        ...["--settle", "600000", "--debounce", "20", "--reconcile-interval", "600", "--ui-port", "off"],
      ]);
      const path = join(dir, "being-written.bin");
      const file = await open(path, "w");
      let closed = false;
      try {
        const half = Buffer.alloc(size / 2, "a");
        await file.write(half);
        await waitUntil(idleAfter(d, 1), "the daemon's round over the new file");
        assert.equal(await pushed(dir, "being-written.bin"), undefined, "left to settle while it is written");
        const before = localRounds(d);
        await file.write(Buffer.alloc(size / 2, "b"), 0, size / 2, size / 2);
        // The watcher reports the write; the round it asks for finds the file still open, and leaves it.
        await waitUntil(idleAfter(d, before + 1), "the daemon's round over the second write");
        assert.equal(await pushed(dir, "being-written.bin"), undefined, "still left to settle: still open for writing");
        // Closing the file is no event the watcher reports: only the writer's closing, seen, can commit it now.
        await file.close();
        closed = true;
        await waitUntil(async () => (await pushed(dir, "being-written.bin")) !== undefined, "the file committed and pushed", 60_000);
        const content = await git(dir, "show", "HEAD:being-written.bin");
        if (size < 1024) assert.equal(content, `${"a".repeat(size / 2)}${"b".repeat(size / 2)}`, "committed whole, as closed");
        else
          assert.match(
            content,
            new RegExp(`^/annex/objects/SHA256E-s${size}--`),
            "committed whole, as closed: an annexed pointer of its full size",
          );
      } finally {
        if (!closed) await file.close();
        await d.stop();
      }
    });
  }
});
