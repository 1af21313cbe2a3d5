import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { chmod, lstat, mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { connect } from "node:net";
import { Conversation, serveDaemonSocket } from "../../../agent/daemon-socket.ts";
import { askDaemon as ask, socketPath } from "../../../localgit/daemon-socket.ts";
import { parseHelperFrame, SOCKET_VERSION } from "../../../protocol/daemon-request.ts";
import { tempDir } from "../../helpers/git.ts";

const SYNC = { version: SOCKET_VERSION, ask: "sync" } as const;

describe("the folder's daemon socket", () => {
  let scratch: { path: string; remove(): Promise<void> };
  before(async () => (scratch = await tempDir("daemon-socket")));
  after(async () => scratch.remove());
  const stateDir = async (name: string) => {
    const dir = join(scratch.path, name, ".git", "cloudbridge");
    await mkdir(dir, { recursive: true });
    return dir;
  };

  it("answers a request with the daemon's value or its error's code, only to its owner (0600), and goes with the daemon", async () => {
    const dir = await stateDir("served");
    let fail = false;
    const service = await serveDaemonSocket(dir, async (request) => {
      if (fail) throw Object.assign(new Error("the round failed"), { code: "boom" });
      return { asked: request.ask };
    });
    assert.ok(service);
    try {
      assert.equal((await lstat(socketPath(dir))).mode & 0o777, 0o600);
      assert.deepEqual(await ask(dir, SYNC), { kind: "answered", reply: { ok: true, value: { asked: "sync" } } });
      fail = true;
      assert.deepEqual(await ask(dir, SYNC), { kind: "answered", reply: { ok: false, code: "boom", message: "the round failed" } });
    } finally {
      await service.close();
    }
    await assert.rejects(lstat(socketPath(dir)), { code: "ENOENT" });
    assert.deepEqual(await ask(dir, SYNC), { kind: "no-daemon" });
  });

  it("takes a socket left by a daemon that died for no daemon, and a new daemon replaces it", async () => {
    const dir = await stateDir("dead");
    // A process that listens on the socket and is killed: the file stays, nobody listens.
    const child = spawn(
      process.execPath,
      ["-e", `require("node:net").createServer().listen(${JSON.stringify(socketPath(dir))}, () => console.log("up"))`],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    await new Promise((up) => child.stdout.once("data", up));
    child.kill("SIGKILL");
    await new Promise((gone) => child.once("exit", gone));
    assert.ok((await lstat(socketPath(dir))).isSocket());
    await chmod(socketPath(dir), 0o600); // as the daemon makes it
    assert.deepEqual(await ask(dir, SYNC), { kind: "no-daemon" });
    const service = await serveDaemonSocket(dir, async () => "new");
    try {
      assert.deepEqual(await ask(dir, SYNC), { kind: "answered", reply: { ok: true, value: "new" } });
    } finally {
      await service?.close();
    }
  });

  it("does not ask a socket open to others, nor what is not a socket", async () => {
    const dir = await stateDir("open");
    const service = await serveDaemonSocket(dir, async () => "nothing to do");
    try {
      await chmod(socketPath(dir), 0o660);
      const asked = await ask(dir, SYNC);
      assert.equal(asked.kind, "not-asked");
      assert.match(asked.kind === "not-asked" ? asked.reason : "", /open to other users \(mode 660\): not trusted/);
    } finally {
      await service?.close();
    }
    await writeFile(socketPath(dir), "");
    const plain = await ask(dir, SYNC);
    assert.match(plain.kind === "not-asked" ? plain.reason : "", /is not a socket/);
  });

  it("answers a request it does not know, or garbage, with an error and no call to the daemon", async () => {
    const dir = await stateDir("unknown");
    let calls = 0;
    const service = await serveDaemonSocket(dir, async () => (calls += 1));
    try {
      const { connect } = await import("node:net");
      const raw = (line: string) =>
        new Promise<string>((answered) => {
          const socket = connect({ path: socketPath(dir) }, () => socket.write(`${line}\n`));
          let text = "";
          socket.on("data", (c: Buffer) => (text += c.toString()));
          socket.on("close", () => answered(text));
        });
      assert.match(await raw(JSON.stringify({ version: SOCKET_VERSION + 1, ask: "sync" })), /"code":"unsupported"/);
      assert.match(await raw(JSON.stringify({ version: SOCKET_VERSION, ask: "delete-everything" })), /"code":"unsupported"/);
      assert.match(await raw("not json"), /"code":"bad-request"/);
      assert.equal(calls, 0);
    } finally {
      await service?.close();
    }
  });

  it("has no socket where the folder's path is too long for one: commands then sync by themselves", async () => {
    const dir = await stateDir("x".repeat(120));
    assert.equal(await serveDaemonSocket(dir, async () => "never"), undefined);
    assert.deepEqual(await ask(dir, SYNC), { kind: "no-daemon" });
  });

  it("keeps the connection for a conversation: lines sent before it was taken and after the asker is done are heard and answered", async () => {
    const dir = await stateDir("conversation");
    const service = await serveDaemonSocket(dir, async () => {
      await new Promise((resolve) => setTimeout(resolve, 50)); // the asker's lines arrive meanwhile
      return new Conversation(async (lines, send) => {
        for (let next = await lines.next(); !next.done; next = await lines.next()) send({ kind: "out", text: `heard ${next.value}` });
        send({ kind: "exit", code: 0 });
      });
    });
    try {
      const socket = connect({ path: socketPath(dir) });
      let received = "";
      socket.setEncoding("utf8");
      socket.on("data", (chunk: string) => (received += chunk));
      const closed = new Promise((done) => socket.once("close", done));
      // The request, then git's lines before the daemon has answered, then half-closed: git's end may come that early.
      socket.write(`${JSON.stringify({ version: SOCKET_VERSION, ask: "remote-helper", url: "u", settings: "d" })}\n`);
      await new Promise((resolve) => setTimeout(resolve, 10));
      socket.end("capabilities\n\n");
      await closed;
      const [reply, ...frames] = received.split("\n").slice(0, -1);
      assert.deepEqual(JSON.parse(reply!), { ok: true, value: "conversation" });
      assert.deepEqual(frames.map(parseHelperFrame), [
        { kind: "out", text: "heard capabilities" },
        { kind: "out", text: "heard " },
        { kind: "exit", code: 0 },
      ]);
    } finally {
      await service?.close();
    }
  });
});
