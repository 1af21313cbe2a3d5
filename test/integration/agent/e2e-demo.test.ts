import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { createServer, type AddressInfo } from "node:net";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, describe, it } from "node:test";
import { waitUntil } from "../../helpers/agents.ts";
import { tempDir } from "../../helpers/git.ts";

/**
 * `npm start` (scripts/demo.ts): the cloud on this machine plus a daemon on demo/alice, and instructions
 * for a second machine; `npm run join` is that second machine. A file dropped on one side appears on the
 * other. Run here on a free port in a scratch directory instead of 4566 and the project folder.
 */
const DEMO = fileURLToPath(new URL("../../../scripts/demo.ts", import.meta.url));

function start(args: string[]): { child: ChildProcess; output: () => string } {
  const child = spawn(process.execPath, ["--disable-warning=ExperimentalWarning", DEMO, ...args], {
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", GIT_CONFIG_NOSYSTEM: "1", GIT_CONFIG_GLOBAL: "/dev/null" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let text = "";
  child.stdout!.on("data", (c: Buffer) => (text += c.toString()));
  child.stderr!.on("data", (c: Buffer) => (text += c.toString()));
  return { child, output: () => text };
}

function exit(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once("exit", (code) => resolve(code)));
}

describe("npm start: the demo", () => {
  let scratch: { path: string; remove(): Promise<void> };
  const started: ChildProcess[] = [];
  before(async () => (scratch = await tempDir("demo")));
  after(async () => {
    for (const child of started.reverse()) if (child.exitCode === null) child.kill("SIGINT");
    await Promise.all(started.map(exit));
    await scratch.remove();
  });

  it("brings up the cloud and alice, tells how to join, and bob sees alice's file", async () => {
    const first = start(["--port", "0", "--root", scratch.path]);
    started.push(first.child);
    await waitUntil(() => first.output().includes("Press Ctrl-C") || undefined, "the demo to be ready", 60_000, 50);
    assert.match(first.output(), /npm run join/);
    const second = start(["join", "--root", scratch.path]);
    started.push(second.child);
    await waitUntil(() => second.output().includes("bob is syncing") || undefined, "bob to join", 60_000, 50);
    const alice = join(scratch.path, "demo", "alice");
    const bob = join(scratch.path, "demo", "bob");
    assert.match(await readFile(join(bob, "hello.txt"), "utf8"), /Hello from alice/);
    await writeFile(join(alice, "dropped.txt"), "a person drops a file\n");
    await waitUntil(
      async () => (await readFile(join(bob, "dropped.txt"), "utf8").catch(() => "")) === "a person drops a file\n" || undefined,
      "the file on bob's side",
      30_000,
    );
    second.child.kill("SIGINT");
    first.child.kill("SIGINT");
    assert.equal(await exit(second.child), 0, second.output());
    assert.equal(await exit(first.child), 0, first.output());
  });
  it("with its port taken (another demo, anything on 4566), says how to run it on another port", async () => {
    const taken = createServer();
    await new Promise<void>((listening) => taken.listen(0, "127.0.0.1", listening));
    try {
      const port = String((taken.address() as AddressInfo).port);
      await mkdir(join(scratch.path, "taken"));
      const demo = start(["--port", port, "--root", join(scratch.path, "taken")]);
      started.push(demo.child);
      assert.equal(await exit(demo.child), 1, demo.output());
      assert.match(demo.output(), new RegExp(`port ${port} is already in use`));
      assert.match(demo.output(), /`npm start -- --port 0` runs it on a free port/);
    } finally {
      taken.close();
    }
  });
});
