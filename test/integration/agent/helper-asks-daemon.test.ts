import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { chmod, chown, mkdir, rm, stat, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:net";
import { join, resolve } from "node:path";
import { before, describe, it } from "node:test";
import { promisify } from "node:util";
import { agentEnv, cliOk, startDaemon, waitUntil, type Daemon } from "../../helpers/agents.ts";
import { startFaultProxy } from "../../helpers/fault-proxy.ts";
import { GIT_ENV, gitInput } from "../../helpers/git.ts";
import { useAgentCloud } from "../../helpers/test-bed.ts";

const execFileAsync = promisify(execFile);

/**
 * `git push` in a synced folder whose daemon runs: the remote helper hands its conversation with git to the
 * daemon (gitstore/remote-helper/through-daemon.pl, agent/remote-requests.ts), and git must get exactly the
 * answers the helper gives alone: the same refs and objects land, the same refusals, `--force` and
 * `--dry-run` as without a daemon. Whenever the daemon cannot be trusted or asked, the helper pushes itself
 * and the push lands. The daemons wait 10 minutes between rounds, so nothing but the push moves the refs
 * pushed here (the pushes go to branches other than the folder's `main`, which is the daemon's).
 */
const QUIET = ["--debounce", "600000", "--reconcile-interval", "600", "--ui-port", "off"];

describe("git push in a folder whose daemon runs", () => {
  const cloud = useAgentCloud("helper-asks-daemon");
  before(async () => {
    // git runs the bundles, as after `npm ci`, whatever was edited since (scripts/build-helper.mjs).
    await execFileAsync(process.execPath, [resolve("scripts/build-helper.mjs")]);
  });
  const daemonEnv = () => agentEnv(cloud.t.cloud.env, { CLOUDBRIDGE_LOG_LEVEL: "debug" });
  /** git as a person runs it in the folder: the same settings as the daemon's, git-remote-cloudbridge on the PATH. */
  const gitEnv = (extra: Record<string, string> = {}) =>
    agentEnv(cloud.t.cloud.env, { ...GIT_ENV, PATH: `${resolve("bin")}:${process.env.PATH}`, ...extra });
  const daemon = (dir: string) => startDaemon(dir, daemonEnv(), QUIET);
  const helped = (d: Daemon) => d.events.filter((e) => e.event === "helper.pushed").length;
  const url = (name: string) => `cloudbridge::s3://cloudbridge/${name}`;

  async function git(
    cwd: string,
    args: string[],
    env = gitEnv(),
    timeout = 120_000,
  ): Promise<{ code: number; stdout: string; stderr: string }> {
    try {
      const { stdout, stderr } = await execFileAsync("git", args, { cwd, env, timeout, maxBuffer: 16 * 1024 * 1024 });
      return { code: 0, stdout: stdout.trim(), stderr };
    } catch (error) {
      const e = error as { code: number; stdout: string; stderr: string };
      return { code: e.code, stdout: e.stdout.trim(), stderr: e.stderr };
    }
  }
  async function ok(cwd: string, args: string[], env = gitEnv()): Promise<string> {
    const run = await git(cwd, args, env);
    assert.equal(run.code, 0, `git ${args.join(" ")} failed: ${run.stderr}`);
    return run.stdout;
  }
  const init = async (name: string) => {
    const dir = cloud.path(name);
    await mkdir(dir);
    await writeFile(join(dir, "README.txt"), "the folder's first file\n");
    await cliOk(["init", dir, "--remote", `s3://cloudbridge/${name}`], cloud.env);
    await ok(dir, ["remote", "add", "bucket", url(name)]);
    return dir;
  };
  /** A commit of one file on `parent` (or on nothing), made without touching the folder's files or branch. */
  async function commitOn(dir: string, parent: string | undefined, file: string, content: string): Promise<string> {
    const blob = (
      await execFileAsync("sh", ["-c", `printf %s "$0" | git hash-object -w --stdin`, content], { cwd: dir, env: gitEnv() })
    ).stdout.trim();
    const tree = (
      await execFileAsync("sh", ["-c", `printf '100644 blob %s\\t%s\\n' "$0" "$1" | git mktree`, blob, file], { cwd: dir, env: gitEnv() })
    ).stdout.trim();
    return ok(dir, ["commit-tree", tree, ...(parent ? ["-p", parent] : []), "-m", `${file}: ${content}`]);
  }
  /** The bucket's refs as a plain repository with no daemon sees them (`git ls-remote` through the helper alone). */
  async function bucketRefs(name: string): Promise<Map<string, string>> {
    const probe = cloud.path(`probe-${name}-${Date.now()}`);
    await mkdir(probe);
    await ok(probe, ["init", "-q"]);
    const listed = await ok(probe, ["ls-remote", url(name)]);
    await rm(probe, { recursive: true, force: true });
    return new Map(
      listed
        .split("\n")
        .filter(Boolean)
        .map((line) => line.split("\t").reverse() as [string, string]),
    );
  }
  /** A clone with no daemon, checked whole: every object the bucket's refs name is there and well formed. */
  async function cloneChecked(name: string): Promise<string> {
    const dir = cloud.path(`clone-${name}-${Date.now()}`);
    await ok(cloud.path(""), ["clone", "-q", "--mirror", url(name), dir]);
    await ok(dir, ["fsck", "--strict", "--no-dangling"]);
    return dir;
  }

  /**
   * Stands in for the daemon of the folder `dir` (its bucket repository `name`) killed at `point`: it holds
   * git's conversation with the helper's own code, as the daemon does (here the helper alone, a process of its
   * own), and stops there without a word. A real daemon cannot be killed at a chosen line of the conversation.
   */
  async function stopping(
    dir: string,
    name: string,
    point: "push asked" | "push landed" | "fetch asked" | "list half said",
  ): Promise<Server> {
    const path = join(dir, ".git", "cloudbridge", "daemon.sock");
    const server = createServer((socket) =>
      socket.once("data", () => {
        socket.write('{"ok":true,"value":"conversation"}\n');
        const helper = spawn("git-remote-cloudbridge", ["bucket", url(name)], {
          cwd: dir,
          env: { ...gitEnv(), CLOUDBRIDGE_HELPER_ALONE: "1", GIT_DIR: join(dir, ".git") },
          stdio: ["pipe", "pipe", "ignore"],
        });
        const stop = () => {
          socket.destroy();
          helper.kill();
        };
        let asked = "";
        socket.on("data", (data: Buffer) => {
          asked += data.toString();
          if ((point === "push asked" && /^push /m.test(asked)) || (point === "fetch asked" && /^fetch /m.test(asked))) return stop();
          helper.stdin.write(data);
        });
        socket.on("end", () => helper.stdin.end());
        let said = "";
        helper.stdout.on("data", (data: Buffer) => {
          said += data.toString();
          for (let end = said.indexOf("\n"); end >= 0 && !socket.destroyed; end = said.indexOf("\n")) {
            const line = said.slice(0, end);
            said = said.slice(end + 1);
            if (point === "push landed" && /^push /m.test(asked)) return stop(); // landed, git not told
            socket.write(`out ${line}\n`);
            if (point === "list half said" && /^list/m.test(asked) && line !== "") return stop();
          }
        });
        helper.on("exit", (code) => socket.end(`exit ${code}\n`));
      }),
    );
    await rm(path, { force: true });
    await new Promise<void>((listening) => server.listen(path, listening));
    await chmod(path, 0o600);
    return server;
  }
  const close = (server: Server) => new Promise((closed) => server.close(closed));

  it("lands the same refs and objects as the helper alone, refuses the same pushes, honours --force and --dry-run, fetches", async () => {
    const dir = await init("same");
    const main = await ok(dir, ["rev-parse", "main"]);
    const d = await daemon(dir);
    const outcomes: Record<string, { stderr: string }> = {};
    try {
      // The same steps through the daemon and, with the daemon stopped, by the helper alone.
      for (const way of ["daemon", "alone"] as const) {
        if (way === "alone") await d.stop();
        const branch = `refs/heads/${way}`;
        const first = await commitOn(dir, main, `${way}.txt`, "first");
        // Through the daemon, no Node process is started for the push: one that could not start changes nothing.
        const pushEnv = way === "daemon" ? gitEnv({ NODE_OPTIONS: "--this-option-does-not-exist" }) : gitEnv();
        const pushed = await git(dir, ["push", "bucket", `${first}:${branch}`], pushEnv);
        assert.equal(pushed.code, 0, pushed.stderr);
        assert.doesNotMatch(pushed.stderr, /cloudbridge: /, `${way}: nothing to say`);
        assert.equal((await bucketRefs("same")).get(branch), first, `${way}: the branch landed`);

        // A commit git knows is not a fast-forward: git refuses it itself from what the helper listed.
        const sideways = await commitOn(dir, main, `${way}.txt`, "sideways");
        const known = await git(dir, ["push", "bucket", `${sideways}:${branch}`]);
        assert.equal(known.code, 1);
        assert.match(known.stderr, /\[rejected\].*\(non-fast-forward\)/, `${way}: ${known.stderr}`);

        // A commit git does not have moved the branch (another machine's push): the helper refuses it ("fetch first").
        const other = cloud.path(`other-${way}`);
        await ok(cloud.path(""), ["clone", "-q", url("same"), other]);
        await ok(other, ["fetch", "-q", "origin", branch]);
        const theirs = await commitOn(other, first, "theirs.txt", way);
        await ok(other, ["push", "-q", "origin", `${theirs}:${branch}`]);
        const unknown = await git(dir, ["push", "bucket", `${sideways}:${branch}`]);
        assert.equal(unknown.code, 1);
        assert.match(unknown.stderr, /\[rejected\].*\(fetch first\)/, `${way}: ${unknown.stderr}`);
        assert.equal((await bucketRefs("same")).get(branch), theirs, `${way}: a refused push moves nothing`);
        // Their commit fetched: its objects arrive, checked, and git's remote-tracking ref follows.
        const fetched = await git(dir, ["fetch", "bucket", branch]);
        assert.equal(fetched.code, 0, fetched.stderr);
        assert.doesNotMatch(fetched.stderr, /cloudbridge: /, `${way}: nothing to say`);
        assert.equal(await ok(dir, ["cat-file", "-p", `${theirs}:theirs.txt`]), way);
        assert.equal(await ok(dir, ["rev-parse", "FETCH_HEAD"]), theirs);

        const dry = await git(dir, ["push", "--dry-run", "bucket", `${sideways}:refs/heads/${way}-dry`]);
        assert.equal(dry.code, 0, dry.stderr);
        assert.equal((await bucketRefs("same")).has(`refs/heads/${way}-dry`), false, `${way}: a dry run writes nothing`);

        const forced = await git(dir, ["push", "--force", "bucket", `${sideways}:${branch}`]);
        assert.equal(forced.code, 0, forced.stderr);
        const deleted = await git(dir, ["push", "bucket", `${first}:refs/heads/${way}-gone`]);
        assert.equal(deleted.code, 0, deleted.stderr);
        assert.equal((await git(dir, ["push", "bucket", `:refs/heads/${way}-gone`])).code, 0);
        const refs = await bucketRefs("same");
        outcomes[way] = { stderr: `${known.stderr}${unknown.stderr}` };
        assert.equal(refs.get(branch), sideways, `${way}: --force replaced their commit`);
        assert.equal(refs.has(`refs/heads/${way}-gone`), false, `${way}: a deleted branch is gone`);
        if (way === "daemon") {
          assert.equal(helped(d), 6, "the daemon did the pushes git sent (the one git refused itself was not sent)");
          assert.equal(d.events.filter((e) => e.event === "helper.fetched").length, 1, "and the fetch");
        }
      }
      // What git said of the refusals is the same, whoever worked them out (bar the branch's name and the commits).
      const said = (way: string) => outcomes[way]!.stderr.replaceAll(way, "WAY").replace(/\b[0-9a-f]{7,40}\b/g, "SHA");
      assert.equal(said("daemon"), said("alone"));
      const mirror = await cloneChecked("same");
      for (const way of ["daemon", "alone"]) {
        const tip = await ok(mirror, ["rev-parse", `refs/heads/${way}`]);
        assert.equal(await ok(mirror, ["show", `${tip}:${way}.txt`]), "sideways");
      }
    } finally {
      await d.stop();
    }
  });

  it("a linked worktree of the folder (git worktree add): the daemon pushes the worktree's own HEAD and fetches into the repository, and so does the helper alone", async () => {
    const dir = await init("linked");
    const main = await ok(dir, ["rev-parse", "main"]);
    const linked = cloud.path("linked-worktree");
    await ok(dir, ["worktree", "add", "-q", "--detach", linked, main]);
    const worktreeGitDir = await ok(linked, ["rev-parse", "--absolute-git-dir"]);
    const d = await daemon(dir);
    try {
      let tip = main;
      for (const way of ["daemon", "alone"] as const) {
        if (way === "alone") await d.stop();
        // git sends the sources as written (`HEAD`, `HEAD~1`): they are the linked worktree's, not the folder's.
        const mine = await commitOn(linked, tip, "linked.txt", `${way}: from the linked worktree`);
        const next = await commitOn(linked, mine, "linked.txt", `${way}: and on`);
        await ok(linked, ["checkout", "-q", "--detach", next]);
        const pushed = await git(linked, ["push", "bucket", `HEAD~1:refs/heads/${way}-parent`, `HEAD:refs/heads/${way}-head`]);
        assert.equal(pushed.code, 0, pushed.stderr);
        assert.doesNotMatch(pushed.stderr, /cloudbridge: /, `${way}: nothing to say`);
        const refs = await bucketRefs("linked");
        assert.equal(refs.get(`refs/heads/${way}-parent`), mine, way);
        assert.equal(refs.get(`refs/heads/${way}-head`), next, way);
        if (way === "daemon") {
          assert.equal(helped(d), 1, "the daemon did the push");
          // A git directory naming the folder's as its common one, but not one of the folder's worktrees: the
          // daemon declines it, and the helper alone pushes its HEAD.
          const stray = cloud.path("stray-git-dir");
          await mkdir(stray);
          await writeFile(join(stray, "commondir"), `${join(dir, ".git")}\n`);
          await writeFile(join(stray, "HEAD"), `${mine}\n`);
          const alone = await git(dir, ["--git-dir", stray, "push", "bucket", "HEAD:refs/heads/stray"]);
          assert.equal(alone.code, 0, alone.stderr);
          assert.equal((await bucketRefs("linked")).get("refs/heads/stray"), mine);
          assert.equal(helped(d), 1, "the daemon declined the stray git directory");
        }

        // Another machine's commit fetched in the linked worktree: its objects land where git reads them.
        const other = cloud.path(`other-linked-${way}`);
        await ok(cloud.path(""), ["clone", "-q", url("linked"), other]);
        const theirs = await commitOn(other, next, "theirs.txt", `${way}: from elsewhere`);
        await ok(other, ["push", "-q", "origin", `${theirs}:refs/heads/${way}-theirs`]);
        const fetched = await git(linked, ["fetch", "bucket", `${way}-theirs`]);
        assert.equal(fetched.code, 0, fetched.stderr);
        assert.equal(await ok(linked, ["cat-file", "-p", `${theirs}:theirs.txt`]), `${way}: from elsewhere`);
        assert.equal(await ok(dir, ["cat-file", "-p", `${theirs}:theirs.txt`]), `${way}: from elsewhere`);
        if (way === "daemon") assert.equal(d.events.filter((e) => e.event === "helper.fetched").length, 1, "and the fetch");
        tip = theirs;
      }
      await ok(dir, ["fsck", "--no-dangling"]);
      // Nothing of the helper's is kept in the worktree's own git directory, which git never reads for it.
      for (const name of ["objects", "cloudbridge"])
        await assert.rejects(stat(join(worktreeGitDir, name)), { code: "ENOENT" }, `${name} in ${worktreeGitDir}`);
    } finally {
      await d.stop();
    }
  });

  it("pushes between the daemon's rounds: a push asked while a round runs waits for it, and both land", async () => {
    const dir = await init("mid-round");
    const main = await ok(dir, ["rev-parse", "main"]);
    const d = await daemon(dir);
    const lock = join(dir, ".git", "cloudbridge", "folder-lock.pid");
    try {
      // This process holds the folder, so the round the next change starts waits in the middle of its start.
      await writeFile(lock, `${process.pid}\n`, { flag: "wx" });
      await writeFile(join(dir, "during-round.txt"), "committed by the round");
      await waitUntil(() => d.events.some((e) => e.event === "round.asked" && e.why === "local"), "the round to start", 60_000);
      const commit = await commitOn(dir, main, "pushed.txt", "pushed during the round");
      const pushing = git(dir, ["push", "bucket", `${commit}:refs/heads/during`]);
      await waitUntil(
        () => d.events.some((e) => e.event === "helper.asked" && e.ask === "remote-push"),
        "the push to reach the daemon",
        60_000,
      );
      await rm(lock);
      const pushed = await pushing;
      assert.equal(pushed.code, 0, pushed.stderr);
      const started = d.events.findIndex((e) => e.event === "round.asked" && e.why === "local");
      const released = d.events.findIndex((e, i) => i > started && e.event === "round.step" && e.step === "released");
      const helperPushed = d.events.findIndex((e) => e.event === "helper.pushed");
      assert.ok(released >= 0 && helperPushed > released, "the push ran after the round, not beside it");
      const refs = await bucketRefs("mid-round");
      assert.equal(refs.get("refs/heads/during"), commit);
      const mirror = await cloneChecked("mid-round");
      assert.equal(await ok(mirror, ["show", "refs/heads/main:during-round.txt"]), "committed by the round");
      assert.equal(await ok(mirror, ["show", "refs/heads/during:pushed.txt"]), "pushed during the round");
    } finally {
      await rm(lock, { force: true });
      await d.stop();
    }
  });

  it("pushes alone where the daemon cannot be trusted or asked, and the push lands", async () => {
    const dir = await init("distrust");
    const main = await ok(dir, ["rev-parse", "main"]);
    const path = join(dir, ".git", "cloudbridge", "daemon.sock");
    let n = 0;
    const pushLands = async (what: string, said: RegExp | undefined, env = gitEnv()) => {
      n += 1;
      const commit = await commitOn(dir, main, `case-${n}.txt`, what);
      const pushed = await git(dir, ["push", "bucket", `${commit}:refs/heads/case-${n}`], env);
      assert.equal(pushed.code, 0, `${what}: ${pushed.stderr}`);
      if (said) assert.match(pushed.stderr, said, what);
      else assert.doesNotMatch(pushed.stderr, /cloudbridge: /, `${what}: nothing to say`);
      assert.equal((await bucketRefs("distrust")).get(`refs/heads/case-${n}`), commit, `${what}: the push landed`);
    };

    // A daemon killed with kill -9 leaves its socket; nobody listens there.
    const killed = await daemon(dir);
    await killed.kill9();
    await pushLands("a daemon killed with kill -9", undefined);

    // Whatever listens says every push went through (it pushes nothing): trusted, that would lose the push.
    const liar: Server = createServer((socket) =>
      socket.once("data", (request: Buffer) => {
        const asked = JSON.parse(request.toString()) as { ask: string; commands?: string[] };
        const output = asked.ask === "remote-push" ? `${asked.commands!.map((c) => `ok ${c.split(":")[1]}\n`).join("")}\n` : "\n";
        socket.end(`${JSON.stringify({ ok: true, value: { output, stderr: [], progress: [] } })}\n`);
      }),
    );
    await rm(path, { force: true });
    await new Promise<void>((listening) => liar.listen(path, listening));
    try {
      await chmod(path, 0o666);
      await pushLands("a socket open to others", /open to other users \(mode 666\): not trusted; working without the daemon/);
      // The tests run as root, who can give the socket away; another user checks the mode only.
      if (process.getuid?.() === 0) {
        await chmod(path, 0o600);
        await chown(path, 4321, 4321);
        await pushLands("another user's socket", /belongs to user 4321, not to you \(0\): not trusted/);
      }
    } finally {
      await new Promise((closed) => liar.close(closed));
    }

    // The owner's socket, answering with what is not an answer to the helper's request.
    const garbled: Server = createServer((socket) =>
      socket.once("data", () =>
        socket.end(`${JSON.stringify({ ok: true, value: { output: "ok refs/heads/elsewhere\n\n", stderr: [], progress: [] } })}\n`),
      ),
    );
    await new Promise<void>((listening) => garbled.listen(path, listening));
    try {
      await chmod(path, 0o600);
      await pushLands("a daemon whose answer names other refs", /working without the daemon/);
    } finally {
      await new Promise((closed) => garbled.close(closed));
    }

    // A real daemon, asked for another repository or with other settings, declines: the helper pushes, saying nothing.
    const d = await daemon(dir);
    try {
      await pushLands("other AWS settings than the daemon's", undefined, gitEnv({ AWS_MAX_ATTEMPTS: "5" }));
      assert.equal(helped(d), 0, "the daemon pushed nothing with other settings");
      const other = await init("distrust-other");
      const commit = await commitOn(dir, main, "other.txt", "another repository");
      const pushed = await git(dir, ["push", url("distrust-other"), `${commit}:refs/heads/from-elsewhere`]);
      assert.equal(pushed.code, 0, pushed.stderr);
      assert.doesNotMatch(pushed.stderr, /cloudbridge: /);
      assert.equal((await bucketRefs("distrust-other")).get("refs/heads/from-elsewhere"), commit);
      assert.equal(helped(d), 0, "the daemon pushes only to its own repository");
      assert.ok(other);
      await pushLands("the daemon itself", undefined);
      assert.equal(helped(d), 1);
    } finally {
      await d.stop();
    }
  });

  it("a daemon that stops in the middle of git's conversation: the helper alone takes it over and the push or fetch lands, or git is told plainly", async () => {
    const dir = await init("stopped");
    const main = await ok(dir, ["rev-parse", "main"]);
    for (const point of ["push asked", "push landed"] as const) {
      const server = await stopping(dir, "stopped", point);
      try {
        const commit = await commitOn(dir, main, "stopped.txt", point);
        const branch = `refs/heads/${point.replace(" ", "-")}`;
        const pushed = await git(dir, ["push", "bucket", `${commit}:${branch}`]);
        assert.equal(pushed.code, 0, `${point}: ${pushed.stderr}`);
        assert.match(pushed.stderr, /cloudbridge: the daemon serving this folder stopped before it answered; going on without it/);
        assert.match(pushed.stderr, /\* \[new branch\]/, point);
        assert.equal((await bucketRefs("stopped")).get(branch), commit, `${point}: the push landed`);
        assert.equal(await ok(dir, ["rev-parse", `refs/remotes/bucket/${branch.slice("refs/heads/".length)}`]), commit);
      } finally {
        await close(server);
      }
    }

    const other = cloud.path("stopped-other");
    await ok(cloud.path(""), ["clone", "-q", url("stopped"), other]);
    const theirs = await commitOn(other, main, "theirs.txt", "from elsewhere");
    await ok(other, ["push", "-q", "origin", `${theirs}:refs/heads/theirs`]);
    const fetching = await stopping(dir, "stopped", "fetch asked");
    try {
      const fetched = await git(dir, ["fetch", "bucket", "theirs"]);
      assert.equal(fetched.code, 0, fetched.stderr);
      assert.equal(await ok(dir, ["cat-file", "-p", `${theirs}:theirs.txt`]), "from elsewhere");
    } finally {
      await close(fetching);
    }

    // Git has part of an answer (a list cut short): nobody can go on from there; git is told, and nothing is half done.
    const cut = await stopping(dir, "stopped", "list half said");
    try {
      const commit = await commitOn(dir, main, "cut.txt", "cut");
      const pushed = await git(dir, ["push", "bucket", `${commit}:refs/heads/cut`]);
      assert.notEqual(pushed.code, 0);
      assert.match(
        pushed.stderr,
        /the daemon serving this folder stopped in the middle of its answer; nothing is left half done .* run the command again/,
      );
      assert.equal((await bucketRefs("stopped")).has("refs/heads/cut"), false);
    } finally {
      await close(cut);
    }
    await cloneChecked("stopped");
  });

  it("a daemon that stops after git asked a push of thousands of refs: the helper alone takes over all of git's lines, more than a pipe holds, while its answers are read, and the push lands", async () => {
    const dir = await init("many-refs");
    const main = await ok(dir, ["rev-parse", "main"]);
    // Long names, so that git's push batch and the helper's list of the bucket's refs each fill several pipes
    // (64 KiB): the helper answers the list while git's batch is still being handed to it.
    const refs = Array.from({ length: 3000 }, (_, n) => `refs/heads/many/a-branch-whose-name-is-long-enough-to-fill-pipes-${n}`);
    const moveAll = (oid: string) => gitInput(dir, refs.map((ref) => `update ${ref} ${oid}\n`).join(""), "update-ref", "--stdin");
    await moveAll(main);
    await ok(dir, ["push", "-q", "bucket", "refs/heads/many/*:refs/heads/many/*"]); // no daemon: the helper alone
    const commit = await commitOn(dir, main, "many.txt", "every ref moves");
    await moveAll(commit);
    const server = await stopping(dir, "many-refs", "push asked");
    try {
      // The helper alone as Node documents its stdout on a pipe (synchronous on Linux): a write to a full pipe
      // waits until the relay reads, and the helper reads git's next lines only after it. (Node in fact
      // queues such a write and reads on; the relay must not depend on which.)
      const blocking = gitEnv({ NODE_OPTIONS: "--import=data:text/javascript,process.stdout._handle?.setBlocking?.(true)" });
      const pushed = await git(dir, ["push", "bucket", "refs/heads/many/*:refs/heads/many/*"], blocking, 60_000);
      assert.equal(pushed.code, 0, `the push lands (it stalls when the helper's lines wait on one another): ${pushed.stderr.slice(-2000)}`);
      assert.match(pushed.stderr, /cloudbridge: the daemon serving this folder stopped before it answered; going on without it/);
      const landed = await bucketRefs("many-refs");
      assert.deepEqual(
        refs.filter((ref) => landed.get(ref) !== commit),
        [],
        "every ref moved in the bucket",
      );
    } finally {
      await close(server);
    }
  });

  it("a daemon killed with kill -9 in the middle of a push: git's push goes on without it and lands whole", async () => {
    const proxy = await startFaultProxy({ target: cloud.t.cloud.endpoint, seed: 1 });
    let d: Daemon | undefined;
    try {
      // The daemon and git reach the bucket through a proxy that can leave the daemon's push hanging.
      const settings = { AWS_ENDPOINT_URL: proxy.endpoint };
      const env = agentEnv(cloud.t.cloud.env, settings);
      const proxiedGit = agentEnv(cloud.t.cloud.env, { ...GIT_ENV, PATH: `${resolve("bin")}:${process.env.PATH}`, ...settings });
      const dir = cloud.path("killed-mid-push");
      await mkdir(dir);
      await writeFile(join(dir, "README.txt"), "the folder's first file\n");
      await cliOk(["init", dir, "--remote", "s3://cloudbridge/killed-mid-push"], env);
      await ok(dir, ["remote", "add", "bucket", url("killed-mid-push")], proxiedGit);
      const main = await ok(dir, ["rev-parse", "main"], proxiedGit);
      d = await startDaemon(dir, { ...env, CLOUDBRIDGE_LOG_LEVEL: "debug" }, QUIET);
      const commit = await commitOn(dir, main, "killed.txt", "pushed while the daemon is killed");
      const pushing = git(dir, ["push", "bucket", `${commit}:refs/heads/killed`], proxiedGit);
      await d.waitForEvent("helper.listed");
      proxy.setDown("blackhole");
      await waitUntil(() => proxy.counts.outage > 0, "the daemon's push under way");
      await d.kill9();
      proxy.setDown(false);
      const pushed = await pushing;
      assert.equal(pushed.code, 0, pushed.stderr);
      assert.match(pushed.stderr, /cloudbridge: the daemon serving this folder stopped before it answered; going on without it/);
      assert.match(pushed.stderr, /\* \[new branch\]\s+\S+ -> killed/);
      assert.equal(helped(d), 0, "the daemon never finished it");
      assert.equal((await bucketRefs("killed-mid-push")).get("refs/heads/killed"), commit);
      assert.equal(await ok(dir, ["rev-parse", "refs/remotes/bucket/killed"], proxiedGit), commit);
      await cloneChecked("killed-mid-push");
    } finally {
      await d?.kill9();
      await proxy.stop();
    }
  });

  const refusals = [
    ["rotated", "a key rotated while it runs (403 InvalidAccessKeyId)"],
    ["expired", "session credentials that expired while it runs (400 ExpiredToken)"],
  ] as const;
  for (const [why, what] of refusals)
    it(`opens the repository again when the bucket refuses the key it holds, ${what}, and pushes with the new one`, async () => {
      const proxy = await startFaultProxy({ target: cloud.t.cloud.endpoint, seed: 1 });
      let d: Daemon | undefined;
      try {
        const credentials = cloud.path("rotating-credentials");
        // Session credentials carry a token; the refused ones and the new ones alike.
        const token = (id: string) => (why === "expired" ? `aws_session_token = token-of-${id}\n` : "");
        const key = (id: string) => `[rotating]\naws_access_key_id = ${id}\naws_secret_access_key = secret-of-${id}\n${token(id)}`;
        await writeFile(credentials, key("AKIAOLDKEY0000000001"));
        await writeFile(cloud.path("aws-config"), "");
        const { AWS_ACCESS_KEY_ID: _id, AWS_SECRET_ACCESS_KEY: _secret, ...cloudEnv } = cloud.t.cloud.env;
        // The daemon and git share these settings (the same digest): only the file's key changes.
        const settings = {
          AWS_PROFILE: "rotating",
          AWS_SHARED_CREDENTIALS_FILE: credentials,
          AWS_CONFIG_FILE: cloud.path("aws-config"),
          AWS_ENDPOINT_URL: proxy.endpoint,
        };
        const env = agentEnv(cloudEnv, settings);
        const rotatingGit = agentEnv(cloudEnv, { ...GIT_ENV, PATH: `${resolve("bin")}:${process.env.PATH}`, ...settings });
        const dir = cloud.path(`rotated-${why}`);
        await mkdir(dir);
        await writeFile(join(dir, "README.txt"), "the folder's first file\n");
        await cliOk(["init", dir, "--remote", `s3://cloudbridge/rotated-${why}`], env);
        await ok(dir, ["remote", "add", "bucket", url(`rotated-${why}`)], rotatingGit);
        const main = await ok(dir, ["rev-parse", "main"], rotatingGit);
        d = await startDaemon(dir, { ...env, CLOUDBRIDGE_LOG_LEVEL: "debug" }, QUIET);
        const first = await commitOn(dir, main, "first.txt", "with the old key");
        await ok(dir, ["push", "bucket", `${first}:refs/heads/first`], rotatingGit);
        assert.equal(helped(d), 1, "the daemon pushed with the key it read at start");

        // The key is rotated: the profile holds the new one, the bucket refuses the old one the daemon still holds.
        await writeFile(credentials, key("AKIANEWKEY0000000002"));
        proxy.refuseKey("AKIAOLDKEY0000000001", why);
        const second = await commitOn(dir, main, "second.txt", "with the new key");
        const pushed = await git(dir, ["push", "bucket", `${second}:refs/heads/second`], rotatingGit);
        assert.equal(pushed.code, 0, `the push lands with the new key: ${pushed.stderr}`);
        assert.equal(helped(d), 2, "the daemon pushed it");
        assert.ok(
          d.events.some((e) => e.event === "helper.key-refused"),
          "the daemon says the bucket refused its key",
        );
        assert.equal((await bucketRefs(`rotated-${why}`)).get("refs/heads/second"), second);
        // The repository stays opened with the key the profile holds now.
        const refused = d.events.filter((e) => e.event === "helper.key-refused").length;
        const third = await commitOn(dir, main, "third.txt", "through the daemon again");
        await ok(dir, ["push", "bucket", `${third}:refs/heads/third`], rotatingGit);
        assert.equal(helped(d), 3, "the daemon pushes again, with the new key");
        assert.equal(d.events.filter((e) => e.event === "helper.key-refused").length, refused, "without a refusal");
        assert.equal((await bucketRefs(`rotated-${why}`)).get("refs/heads/third"), third);
      } finally {
        await d?.stop();
        await proxy.stop();
      }
    });
});
