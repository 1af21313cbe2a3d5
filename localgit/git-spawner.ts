/**
 * The git spawner: a small Node process that starts git for a large one (the daemon), over its IPC channel.
 *
 * Node starts a process by forking itself, and a fork copies the parent's page tables and leaves every page
 * it had copy-on-write: from a daemon holding a folder of 100,000 files that costs tens of milliseconds per
 * git process, and more the larger the folder. This process stays small (it loads nothing but Node's own
 * modules), so the fork git starts from costs the same whatever the folder. The runner (run.ts) is its only
 * client; it passes each process's full environment and working folder, so git runs exactly as if started
 * by the daemon itself.
 *
 * Messages in: `run` (arguments, environment, folder, input: its output comes back as `data` and `stderr`
 * messages, then `done` with the exit code), `start` (a long-lived process: its stdout comes back as `data`
 * messages, its end as `close`),
 * `write` and `end` (a started process's stdin). It exits when its parent goes (the channel closes): git
 * processes still running then see their input end, as they would had the parent been killed.
 */
import { spawn, type ChildProcess } from "node:child_process";

export type SpawnerRequest =
  | { op: "run"; id: number; args: string[]; env: NodeJS.ProcessEnv; cwd?: string; input: Uint8Array | string }
  | { op: "start"; id: number; args: string[]; env: NodeJS.ProcessEnv }
  | { op: "write"; id: number; data: Uint8Array | string }
  | { op: "end"; id: number };

export type SpawnerReply =
  | { op: "done"; id: number; code: number }
  | { op: "stderr"; id: number; data: Uint8Array }
  | { op: "failed"; id: number; message: string }
  | { op: "data"; id: number; data: Uint8Array }
  | { op: "close"; id: number; code: number | null };

function serve(): void {
  const send = (reply: SpawnerReply) => process.send?.(reply);
  const started = new Map<number, ChildProcess>();
  process.on("message", (request: SpawnerRequest) => {
    if (request.op === "run") {
      let answered = false;
      const answer = (reply: SpawnerReply) => {
        if (answered) return;
        answered = true;
        send(reply);
      };
      const child = spawn("git", request.args, { cwd: request.cwd, env: request.env, stdio: ["pipe", "pipe", "pipe"] });
      // Output goes back as it comes, never gathered here: this process keeps no large buffer (its memory would stay).
      child.stdout.on("data", (data: Buffer) => send({ op: "data", id: request.id, data }));
      child.stderr.on("data", (data: Buffer) => send({ op: "stderr", id: request.id, data }));
      child.stdin.on("error", () => {}); // git may exit before reading all its input; its exit code says why
      child.on("error", (error) => answer({ op: "failed", id: request.id, message: error.message }));
      child.on("close", (code) => answer({ op: "done", id: request.id, code: code ?? 1 }));
      child.stdin.end(request.input);
    } else if (request.op === "start") {
      const child = spawn("git", request.args, { env: request.env, stdio: ["pipe", "pipe", "ignore"] });
      started.set(request.id, child);
      child.stdin.on("error", () => {}); // it exited: its `close` says so
      child.stdout.on("data", (data: Buffer) => send({ op: "data", id: request.id, data }));
      child.on("error", () => {}); // not started: `close` follows
      child.on("close", (code) => {
        started.delete(request.id);
        send({ op: "close", id: request.id, code });
      });
    } else if (request.op === "write") {
      started.get(request.id)?.stdin?.write(request.data);
    } else if (request.op === "end") {
      started.get(request.id)?.stdin?.end();
    }
  });
  process.on("disconnect", () => process.exit(0));
}

if (process.send) serve();
