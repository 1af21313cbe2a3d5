import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { chmod, mkdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { Conversation, serveDaemonSocket } from "../../../agent/daemon-socket.ts";
import { settingsDigest } from "../../../localgit/daemon-socket.ts";
import { REFUSALS, type DaemonRequest } from "../../../protocol/daemon-request.ts";
import { tempDir } from "../../helpers/git.ts";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const RELAY = join(ROOT, "gitstore/remote-helper/through-daemon.pl");
const URL_GIVEN = "cloudbridge::s3://bucket/repo";

/**
 * The remote helper where a daemon serves the repository (gitstore/remote-helper/through-daemon.pl, what the
 * launcher starts where the repository has a daemon's socket), against the daemon's real socket server:
 * it hands the daemon git's conversation as git wrote it and gives git the daemon's frames as they are, asks
 * with git's URL and the digest of its settings (the same as Node's), leaves the whole conversation to the
 * helper that works alone when the daemon declines, and loads no Perl module but `strict` and Perl's own
 * Digest::SHA (each module costs ms at every push).
 */
describe("the remote helper handing its conversation to the daemon", () => {
  let scratch: { path: string; remove(): Promise<void> };
  let gitDir: string;
  let launcher: string;
  let speaking: string;
  before(async () => {
    scratch = await tempDir("helper-through-daemon");
    gitDir = join(scratch.path, "repo.git");
    await mkdir(join(gitDir, "cloudbridge"), { recursive: true });
    // Stands in for bin/git-remote-cloudbridge run again: says how it was run, then what git had written.
    launcher = join(scratch.path, "launcher");
    await writeFile(launcher, '#!/bin/sh\necho "alone CLOUDBRIDGE_HELPER_ALONE=$CLOUDBRIDGE_HELPER_ALONE $*"\ncat\n');
    await chmod(launcher, 0o755);
    // Stands in for the helper alone holding a conversation: answers capabilities and a list as it would.
    speaking = join(scratch.path, "speaking");
    await writeFile(
      speaking,
      "#!/bin/sh\nwhile read -r line; do case \"$line\" in capabilities) printf 'fetch\\npush\\noption\\n\\n';; " +
        "list*) printf '000000000000000000000000000000000000000%s refs/heads/main\\n\\n' \"$CLOUDBRIDGE_HELPER_ALONE\";; '') exit 0;; esac; done\n",
    );
    await chmod(speaking, 0o755);
  });
  after(async () => scratch.remove());

  /** The relay as the launcher runs it, git's `input` on its stdin; with the Perl modules it loaded (`strict` and the like). */
  async function relay(
    input: string,
    env: NodeJS.ProcessEnv = {},
    runAgain = launcher,
  ): Promise<{ code: number | null; stdout: string; stderr: string; modules: string[] }> {
    // %INC at exit, less the relay itself; the relay runs unchanged (`do`), with its arguments.
    const probe =
      'our $relay = shift; END { print STDERR "modules: ", join(" ", sort grep { $_ ne $relay } keys %INC), "\\n" } do $relay; die $@ if $@;';
    const child = spawn("perl", ["-e", probe, RELAY, runAgain, "origin", URL_GIVEN], {
      env: { PATH: process.env.PATH, HOME: "/home/someone", GIT_DIR: gitDir, ...env },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const closed = new Promise<number | null>((done) => child.once("close", done));
    child.stdin.end(input);
    const code = await closed;
    const said = /^modules: (.*)\n/m.exec(stderr);
    return { code, stdout, stderr: stderr.replace(/^modules: .*\n/m, ""), modules: said ? said[1]!.split(" ").filter(Boolean) : [] };
  }

  it("relays git's lines to the daemon and the daemon's frames to git and stderr, exits with its code, and loads only strict and Digest::SHA", async () => {
    const asked: DaemonRequest[] = [];
    const heard: string[] = [];
    const service = await serveDaemonSocket(join(gitDir, "cloudbridge"), async (request) => {
      asked.push(request);
      return new Conversation(async (lines, send) => {
        for (let next = await lines.next(); !next.done; next = await lines.next()) {
          heard.push(next.value);
          if (next.value === "capabilities") for (const text of ["fetch", "push", "option", ""]) send({ kind: "out", text });
          if (next.value === "list for-push") {
            send({ kind: "err", text: "warning: listed" });
            send({ kind: "out", text: `${"a".repeat(40)} refs/heads/main` });
            send({ kind: "out", text: "" });
          }
        }
        send({ kind: "exit", code: 3 });
      });
    });
    try {
      const env = { AWS_PROFILE: "work", GIT_CONFIG_COUNT: "1", GIT_CONFIG_KEY_0: "cloudbridge.Endpoint", GIT_CONFIG_VALUE_0: "http://x" };
      const run = await relay("capabilities\nlist for-push\npush refs/heads/main:refs/heads/main\n\n", env);
      assert.equal(run.code, 3, run.stderr);
      assert.equal(run.stdout, `fetch\npush\noption\n\n${"a".repeat(40)} refs/heads/main\n\n`);
      assert.equal(run.stderr, "warning: listed\n");
      assert.deepEqual(heard, ["capabilities", "list for-push", "push refs/heads/main:refs/heads/main", ""]);
      const settings = settingsDigest({ HOME: "/home/someone", ...env });
      assert.deepEqual(
        asked.map((request) => ({ ...request })),
        [{ version: 1, ask: "remote-helper", url: URL_GIVEN, settings }],
      );
      assert.deepEqual(run.modules, [
        // Digest::SHA and what it loads itself
        ...["Digest/SHA.pm", "Digest/base.pm", "Exporter.pm", "Fcntl.pm", "XSLoader.pm", "integer.pm"],
        ...["strict.pm", "vars.pm", "warnings.pm", "warnings/register.pm"],
      ]);
    } finally {
      await service?.close();
    }
  });

  it("from a linked worktree, asks the daemon whose socket is in the repository's directory (`commondir`), naming the worktree's git directory", async () => {
    const worktree = join(gitDir, "worktrees", "linked");
    await mkdir(worktree, { recursive: true });
    await writeFile(join(worktree, "commondir"), "../..\n");
    const asked: DaemonRequest[] = [];
    const service = await serveDaemonSocket(join(gitDir, "cloudbridge"), async (request) => {
      asked.push(request);
      return new Conversation(async (lines, send) => {
        for (let next = await lines.next(); !next.done; next = await lines.next())
          if (next.value === "capabilities") for (const text of ["fetch", "push", "option", ""]) send({ kind: "out", text });
        send({ kind: "exit", code: 0 });
      });
    });
    try {
      const run = await relay("capabilities\n\n", { GIT_DIR: worktree });
      assert.equal(run.code, 0, run.stderr);
      assert.equal(run.stdout, "fetch\npush\noption\n\n");
      const settings = settingsDigest({ HOME: "/home/someone" });
      assert.deepEqual(
        asked.map((request) => ({ ...request })),
        [{ version: 1, ask: "remote-helper-in-worktree", url: URL_GIVEN, settings, worktree }],
      );
      assert.ok(!run.modules.includes("Cwd.pm"), "an absolute GIT_DIR, as git gives a linked worktree's, needs no module more");
      // Where GIT_COMMON_DIR says which directory is the repository's, the helper alone reads it.
      const overridden = await relay("capabilities\n\n", { GIT_DIR: worktree, GIT_COMMON_DIR: gitDir });
      assert.match(overridden.stdout, /^alone CLOUDBRIDGE_HELPER_ALONE=1 /);
      assert.equal(asked.length, 1);
    } finally {
      await service?.close();
      await rm(join(gitDir, "worktrees"), { recursive: true, force: true });
    }
  });

  it("hands the conversation to the helper alone when the daemon goes away between two answers, leaving out what git already had", async () => {
    const service = await serveDaemonSocket(join(gitDir, "cloudbridge"), async () => {
      return new Conversation(async (lines, send) => {
        await lines.next();
        for (const text of ["fetch", "push", "option", ""]) send({ kind: "out", text });
        await lines.next();
        // Gone without its exit frame after git's `list for-push`, as a daemon killed mid-push.
      });
    });
    try {
      const run = await relay("capabilities\nlist for-push\n", {}, speaking);
      assert.equal(run.code, 0, run.stderr);
      assert.equal(
        run.stdout,
        "fetch\npush\noption\n\n0000000000000000000000000000000000000001 refs/heads/main\n\n",
        "the daemon's capabilities, then the helper alone's list: its own capabilities left out",
      );
      assert.equal(run.stderr, "cloudbridge: the daemon serving this folder stopped before it answered; going on without it.\n");
    } finally {
      await service?.close();
    }
  });

  it("says so and fails when the daemon goes away in the middle of an answer (git then runs the command again)", async () => {
    const service = await serveDaemonSocket(join(gitDir, "cloudbridge"), async () => {
      return new Conversation(async (lines, send) => {
        await lines.next();
        send({ kind: "out", text: "fetch" });
        // Gone without the rest of its answer nor its exit frame.
      });
    });
    try {
      const run = await relay("capabilities\nlist for-push\n", {}, speaking);
      assert.equal(run.code, 1);
      assert.equal(run.stdout, "fetch\n");
      assert.match(
        run.stderr,
        /^git-remote-cloudbridge: the daemon serving this folder stopped in the middle of its answer; nothing is left half done in the bucket \(a push lands whole or not at all\): run the command again\.\n$/,
      );
    } finally {
      await service?.close();
    }
  });

  it("hands the whole conversation to the helper alone when the daemon declines, with the digest Node makes of any settings", async () => {
    const asked: DaemonRequest[] = [];
    const service = await serveDaemonSocket(join(gitDir, "cloudbridge"), async (request) => {
      asked.push(request);
      throw Object.assign(new Error("other settings"), { code: "settings-differ" });
    });
    try {
      // Settings texts of every length around SHA-256's 64-byte blocks.
      const lengths = [0, 1, 20, 30, 40, 41, 42, 50, 55, 56, 63, 64, 65, 100, 119, 120, 1000];
      for (const n of lengths) {
        const env = { AWS_SESSION_TOKEN: "t".repeat(n), ...(n % 2 ? { GIT_CONFIG_PARAMETERS: "'include.path'='/x'" } : {}) };
        const run = await relay("capabilities\n", env);
        assert.equal(run.code, 0, run.stderr);
        assert.equal(run.stdout, `alone CLOUDBRIDGE_HELPER_ALONE=1 origin ${URL_GIVEN}\ncapabilities\n`, "git's conversation untouched");
        assert.equal(run.stderr, "", "a decline is not worth saying");
        const request = asked.at(-1)!;
        assert.ok(request.ask === "remote-helper");
        assert.equal(request.settings, settingsDigest({ HOME: "/home/someone", ...env }), `a settings text of ${n}-byte token`);
      }
      assert.equal(asked.length, lengths.length);
    } finally {
      await service?.close();
    }
    // No daemon listens any more (its socket is gone): the helper alone, nothing said.
    const run = await relay("capabilities\n");
    assert.equal(run.stdout, `alone CLOUDBRIDGE_HELPER_ALONE=1 origin ${URL_GIVEN}\ncapabilities\n`);
    assert.equal(run.stderr, "");
  });

  it("takes every refusal the daemon may decline with (REFUSALS) as a decline: the helper alone, nothing said; any other error before the conversation is said", async () => {
    let code = "";
    const service = await serveDaemonSocket(join(gitDir, "cloudbridge"), async () => {
      throw Object.assign(new Error(`declined with ${code}`), { code });
    });
    try {
      for (code of [...REFUSALS, "failed"]) {
        const run = await relay("capabilities\n");
        assert.equal(run.code, 0, run.stderr);
        assert.equal(
          run.stdout,
          `alone CLOUDBRIDGE_HELPER_ALONE=1 origin ${URL_GIVEN}\ncapabilities\n`,
          `${code}: git's conversation untouched`,
        );
        if (code === "failed") assert.match(run.stderr, /answered what this helper does not understand: .*"failed"/);
        else assert.equal(run.stderr, "", `${code} is a decline, not worth saying`);
      }
    } finally {
      await service?.close();
    }
  });
});
