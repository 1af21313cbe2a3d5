import assert from "node:assert/strict";
import { readFile, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { agentEnv, cliOk, startDaemon, waitUntil, type Daemon } from "../../helpers/agents.ts";
import { exists } from "../../helpers/folders.ts";
import { tempDir } from "../../helpers/git.ts";
import { startTestCloud, type TestCloud } from "../../helpers/local-cloud.ts";
import { startProsody, type TestProsody } from "../../helpers/prosody.ts";

/**
 * Two daemons on two folders, as two machines: a file created, modified, renamed and deleted on one
 * side appears, changes, moves and disappears on the other, heard of through each listener. The
 * reconcile interval is long (10 min), so only the listener can deliver within the deadline. The deadline
 * only has to tell a listener's delivery from that reconcile on a loaded machine: how fast a change
 * travels (about a second) is a figure of `npm run bench:agent`, not a test's bound.
 */
const DEBOUNCE = ["--debounce", "100", "--reconcile-interval", "600"];
const DEADLINE_MS = 10_000;

interface Setup {
  cloud: TestCloud;
  env: (who: "a" | "b") => Record<string, string>;
  flags: string[];
  initFlags: (who: "a" | "b") => string[];
  stop?: () => Promise<void>;
}

async function measureScenario(root: string, setup: Setup, limitMs: number): Promise<number[]> {
  const url = "s3://cloudbridge/two";
  const A = join(root, "a");
  const B = join(root, "b");
  await cliOk(["init", A, "--remote", url, ...setup.initFlags("a")], setup.env("a"));
  await cliOk(["clone", url, B, ...setup.initFlags("b")], setup.env("b"));
  const daemons: Daemon[] = [];
  try {
    daemons.push(await startDaemon(A, setup.env("a"), [...DEBOUNCE, ...setup.flags]));
    daemons.push(await startDaemon(B, setup.env("b"), [...DEBOUNCE, ...setup.flags]));
    const latencies: number[] = [];
    const step = async (what: string, act: () => Promise<void>, done: () => Promise<boolean>) => {
      await act();
      const start = Date.now();
      await waitUntil(async () => (await done()) || undefined, what, 30_000, 10);
      latencies.push(Date.now() - start);
    };
    const text = (path: string) => readFile(path, "utf8").catch(() => undefined);

    await step(
      "create on A → B",
      () => writeFile(join(A, "note.txt"), "first\n"),
      async () => (await text(join(B, "note.txt"))) === "first\n",
    );
    await step(
      "modify on A → B",
      () => writeFile(join(A, "note.txt"), "second\n"),
      async () => (await text(join(B, "note.txt"))) === "second\n",
    );
    await step(
      "rename on A → B",
      () => rename(join(A, "note.txt"), join(A, "renamed.txt")),
      async () => (await text(join(B, "renamed.txt"))) === "second\n" && !(await exists(join(B, "note.txt"))),
    );
    await step(
      "delete on A → B",
      () => rm(join(A, "renamed.txt")),
      async () => !(await exists(join(B, "renamed.txt"))),
    );
    await step(
      "create on B → A",
      () => writeFile(join(B, "back.txt"), "from b\n"),
      async () => (await text(join(A, "back.txt"))) === "from b\n",
    );

    for (const [i, ms] of latencies.entries())
      assert.ok(ms < limitMs, `step ${i + 1} took ${ms} ms (limit ${limitMs} ms); all: ${latencies.join(", ")} ms`);
    return latencies;
  } finally {
    for (const d of daemons) assert.equal(await d.stop(), 0, "the daemon stops cleanly on SIGTERM");
  }
}

describe("two daemons keep two folders in sync", () => {
  let scratch: { path: string; remove(): Promise<void> };
  before(async () => (scratch = await tempDir("e2e-two")));
  after(async () => scratch.remove());

  it("with SQS notifications, each change arrives well before the reconcile interval", async () => {
    const cloud = await startTestCloud();
    try {
      const latencies = await measureScenario(
        join(scratch.path, "sqs"),
        { cloud, env: () => agentEnv(cloud.cloud.env), flags: ["--listen", "sqs"], initFlags: () => ["--topic-arn", cloud.cloud.topicArn] },
        DEADLINE_MS,
      );
      process.stderr.write(`# SQS latencies (ms): ${latencies.join(", ")}\n`);
    } finally {
      await cloud.stop();
    }
  });

  it("with XMPP notifications (real prosody), each change arrives well before the reconcile interval", async () => {
    const prosody: TestProsody = await startProsody();
    const password = { notifier: "notifier-pw", a: "alice-pw", b: "bob-pw" };
    const jids = {
      notifier: await prosody.register("notifier", password.notifier),
      a: await prosody.register("alice", password.a),
      b: await prosody.register("bob", password.b),
    };
    const cloud = await startTestCloud({
      xmpp: {
        service: prosody.service,
        jid: jids.notifier,
        password: password.notifier,
        recipients: [jids.a, jids.b],
        retryDelaySeconds: 1,
      },
    });
    try {
      const latencies = await measureScenario(
        join(scratch.path, "xmpp"),
        {
          cloud,
          env: (who) => agentEnv(cloud.cloud.env, { CLOUDBRIDGE_XMPP_PASSWORD: password[who] }),
          flags: ["--listen", "xmpp"],
          initFlags: (who) => ["--xmpp-service", prosody.service, "--xmpp-jid", jids[who]],
        },
        DEADLINE_MS,
      );
      process.stderr.write(`# XMPP latencies (ms): ${latencies.join(", ")}\n`);
    } finally {
      await cloud.stop();
      await prosody.destroy();
    }
  });

  it("with polling every 2 s, each change arrives within the interval, well before the reconcile interval", async () => {
    const cloud = await startTestCloud();
    try {
      const latencies = await measureScenario(
        join(scratch.path, "poll"),
        { cloud, env: () => agentEnv(cloud.cloud.env), flags: ["--listen", "poll", "--poll-interval", "2"], initFlags: () => [] },
        2000 + DEADLINE_MS,
      );
      process.stderr.write(`# polling latencies (ms): ${latencies.join(", ")}\n`);
    } finally {
      await cloud.stop();
    }
  });
});
