import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { createServer, request, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { startTestCloud, type TestCloud } from "../../helpers/local-cloud.ts";
import { GIT_ENV, tempDir } from "../../helpers/git.ts";
import { damageIndexedRef } from "../../helpers/git-cloud.ts";
import { loadedModulesArgs } from "../../helpers/loaded-modules.ts";
import { S3ObjectStore } from "../../../objectstore/s3-object-store.ts";
import { BucketLayout } from "../../../protocol/layout.ts";

const execFileAsync = promisify(execFile);

/** A test proxy's request passed on to the cloud at `upstream`, and its answer back. */
function forwardTo(upstream: URL, req: IncomingMessage, res: ServerResponse): void {
  const upstreamRequest = request(
    { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers },
    (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    },
  );
  upstreamRequest.on("error", () => res.destroy());
  req.pipe(upstreamRequest);
}
const PUSHERS = 8;

describe("git-remote-cloudbridge: plain git clone, fetch and push through the bucket", () => {
  let t: TestCloud;
  let work: { path: string; remove(): Promise<void> };
  let env: NodeJS.ProcessEnv;
  before(async () => {
    // git runs the bundle, as after `npm ci`, whatever was edited since (scripts/build-helper.mjs).
    await execFileAsync(process.execPath, [resolve("scripts/build-helper.mjs")]);
    t = await startTestCloud();
    work = await tempDir("git-remote-helper");
    env = {
      ...process.env,
      ...t.cloud.env,
      ...GIT_ENV,
      PATH: `${resolve("bin")}:${process.env.PATH}`,
      GIT_CONFIG_COUNT: "1",
      GIT_CONFIG_KEY_0: "init.defaultBranch",
      GIT_CONFIG_VALUE_0: "main",
    };
  });
  after(async () => {
    await work.remove();
    await t.stop();
  });

  /** Runs git; resolves with its exit code and output instead of throwing. */
  async function git(cwd: string, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    try {
      // A hung helper fails this test within a minute instead of holding up the whole suite.
      const { stdout, stderr } = await execFileAsync("git", args, { cwd, env, timeout: 60_000 });
      return { code: 0, stdout: stdout.trim(), stderr };
    } catch (error) {
      const e = error as { code: number; stdout: string; stderr: string };
      return { code: e.code, stdout: e.stdout.trim(), stderr: e.stderr };
    }
  }
  async function ok(cwd: string, ...args: string[]): Promise<string> {
    const run = await git(cwd, ...args);
    assert.equal(run.code, 0, `git ${args.join(" ")} failed: ${run.stderr}`);
    return run.stdout;
  }
  async function commit(dir: string, file: string, content: string): Promise<string> {
    await writeFile(join(dir, file), content);
    await ok(dir, "add", file);
    await ok(dir, "commit", "-q", "-m", `${file}: ${content.trim()}`);
    return ok(dir, "rev-parse", "HEAD");
  }

  it("clones, pushes and fetches with git's semantics: non-fast-forward rejected unless forced", async () => {
    const url = `cloudbridge::s3://${t.cloud.bucket}/team/notes`;
    const empty = await git(work.path, "clone", url, "a");
    assert.equal(empty.code, 0, empty.stderr);
    assert.match(empty.stderr, /cloned an empty repository/);
    // A name with no repository behind it is said (a typo would otherwise go unseen until a push made it).
    assert.match(
      empty.stderr,
      /warning: there is no repository at team\/repos\/notes\.git\/ in the bucket cloudbridge yet; a push creates it/,
    );
    const a = join(work.path, "a");
    const first = await commit(a, "one.txt", "one\n");
    await ok(a, "push", "-q", "origin", "main");
    assert.match(await ok(a, "config", "cloudbridge.agent"), /^[0-9a-f-]{36}$/, "a plain git user gets an agent id");

    await ok(work.path, "clone", "-q", url, "b");
    const b = join(work.path, "b");
    assert.equal(await ok(b, "rev-parse", "HEAD"), first);
    assert.equal(await ok(b, "symbolic-ref", "refs/remotes/origin/HEAD"), "refs/remotes/origin/main");

    const second = await commit(a, "two.txt", "two\n");
    await ok(a, "push", "-q", "--dry-run");
    assert.equal(await ok(b, "ls-remote", "origin", "main"), `${first}\trefs/heads/main`, "a dry run changes nothing");
    await ok(a, "push", "-q");
    await commit(b, "three.txt", "three\n");
    const rejected = await git(b, "push");
    assert.notEqual(rejected.code, 0);
    assert.match(rejected.stderr, /\[rejected\]\s+main -> main \(fetch first\)/);
    await ok(b, "fetch", "-q");
    assert.equal(await ok(b, "rev-parse", "origin/main"), second);
    const nonFastForward = await git(b, "push");
    assert.match(nonFastForward.stderr, /\[rejected\]\s+main -> main \(non-fast-forward\)/);

    await ok(b, "push", "-q", "--force");
    await ok(a, "fetch", "-q");
    assert.equal(await ok(a, "rev-parse", "origin/main"), await ok(b, "rev-parse", "HEAD"));
    await ok(a, "reset", "-q", "--hard", "origin/main");
    await ok(a, "fsck", "--strict", "--no-dangling");
    await ok(b, "fsck", "--strict", "--no-dangling");

    // A damaged ref in the bucket: fetch refuses, saying what is wrong; a forced push replaces it.
    await damageIndexedRef(new S3ObjectStore(t.cloud.bucket, t.s3), new BucketLayout("team"), "notes", "refs/heads/main", "garbage");
    const damaged = await git(a, "fetch");
    assert.notEqual(damaged.code, 0);
    assert.match(damaged.stderr, /refs\/heads\/main.*does not hold an object id/);
    assert.notEqual((await git(a, "push", "origin", "main")).code, 0);
    await ok(a, "push", "-q", "--force", "origin", "main");
    await ok(b, "fetch", "-q");
    assert.equal(await ok(b, "rev-parse", "origin/main"), await ok(a, "rev-parse", "HEAD"));

    await ok(a, "push", "-q", "origin", "main:refs/heads/topic");
    assert.match(await ok(a, "ls-remote", "origin"), /refs\/heads\/topic/);
    await ok(a, "push", "-q", "origin", "--delete", "topic");
    assert.doesNotMatch(await ok(a, "ls-remote", "origin"), /topic/);
  });

  it("asks for the refs index beside the key ring, not after it: a clear repository's `list` is one round trip, and a push then lands", async () => {
    // A proxy in front of the cloud holds each key ring's answer until the refs index's GET of the same
    // command has arrived (or 3 s have passed): a helper that waits for the key ring before asking for the
    // index is seen to have waited.
    const upstream = new URL(t.cloud.env.AWS_ENDPOINT_URL!);
    let indexAsked = false;
    let indexGets = 0;
    let indexArrived = () => {};
    const held: string[] = [];
    const proxy = createServer((req, res) => {
      const path = (req.url ?? "").split("?")[0]!;
      const forward = () => forwardTo(upstream, req, res);
      if (req.method === "GET" && path.endsWith("/info/refs")) {
        indexAsked = true;
        indexGets += 1;
        indexArrived();
      }
      if (req.method !== "GET" || !path.endsWith("/keyring.json")) return forward();
      const index = indexAsked
        ? Promise.resolve("index asked")
        : new Promise<string>((arrived) => (indexArrived = () => arrived("index asked")));
      void Promise.race([index, sleep(3000).then(() => "3 s passed")]).then((why) => {
        held.push(why);
        forward();
      });
    });
    await new Promise<void>((listening) => proxy.listen(0, "127.0.0.1", listening));
    const port = (proxy.address() as AddressInfo).port;
    const proxied = { ...env, AWS_ENDPOINT_URL: `http://127.0.0.1:${port}` };
    const gets: number[] = [];
    const run = async (cwd: string, ...args: string[]) => {
      indexAsked = false;
      indexGets = 0;
      await execFileAsync("git", args, { cwd, env: proxied, timeout: 60_000 });
      gets.push(indexGets);
    };
    try {
      const url = `cloudbridge::s3://${t.cloud.bucket}/read-ahead`;
      const a = join(work.path, "ahead-a");
      await mkdir(a);
      await ok(a, "init", "-q");
      await commit(a, "one.txt", "one\n");
      await run(a, "push", "-q", url, "main");
      const second = await commit(a, "two.txt", "two\n");
      await run(a, "push", "-q", url, "main");
      await run(work.path, "clone", "-q", url, "ahead-b");
      assert.equal(await ok(join(work.path, "ahead-b"), "rev-parse", "HEAD"), second);
      assert.deepEqual(
        held,
        ["index asked", "index asked", "index asked"],
        "each command asked for the index while the key ring's answer was on its way",
      );
      assert.deepEqual(gets, [1, 1, 1], "and that GET was the one its `list` read: the index was not asked for again");
    } finally {
      await new Promise((closed) => (proxy.closeAllConnections(), proxy.close(closed)));
    }
  });

  it("works the same from the TypeScript sources, as when the bundle is stale or was never built", async () => {
    const fromSource = (dir: string, ...args: string[]) =>
      execFileAsync("git", args, { cwd: dir, env: { ...env, CLOUDBRIDGE_HELPER_FROM_SOURCE: "1" }, timeout: 60_000 });
    const url = `cloudbridge::s3://${t.cloud.bucket}/from-source`;
    const a = join(work.path, "source-a");
    await mkdir(a);
    await ok(a, "init", "-q");
    const first = await commit(a, "one.txt", "one\n");
    await fromSource(a, "push", "-q", url, "main");
    await fromSource(work.path, "clone", "-q", url, "source-b");
    const b = join(work.path, "source-b");
    assert.equal(await ok(b, "rev-parse", "HEAD"), first);
    const second = await commit(b, "two.txt", "two\n");
    await fromSource(b, "push", "-q", "origin", "main");
    await fromSource(a, "fetch", "-q", url, "main");
    assert.equal(await ok(a, "rev-parse", "FETCH_HEAD"), second);
  });

  it("a synced folder's settings are for its own repository: another cloudbridge remote of the same git repository uses the environment's endpoint and the bucket's word on encryption", async () => {
    const dir = join(work.path, "two-remotes");
    await mkdir(dir);
    await ok(dir, "init", "-q");
    // The folder's repository: in another bucket, at an endpoint where nothing listens, encrypted.
    await ok(dir, "config", "cloudbridge.bucket", "folder-bucket");
    await ok(dir, "config", "cloudbridge.repo", "folder");
    await ok(dir, "config", "cloudbridge.endpoint", "http://127.0.0.1:9");
    await ok(dir, "config", "cloudbridge.encrypted", "true");
    const url = `cloudbridge::s3://${t.cloud.bucket}/team/second-remote`;
    await ok(dir, "remote", "add", "second", url);
    const first = await commit(dir, "one.txt", "one\n");
    await ok(dir, "push", "-q", "second", "main");
    await ok(work.path, "clone", "-q", url, "second-reader");
    assert.equal(await ok(join(work.path, "second-reader"), "rev-parse", "HEAD"), first);
    await ok(dir, "fetch", "-q", "second");
    assert.equal(await ok(dir, "rev-parse", "second/main"), first);
    // The folder's own remote still gets the folder's endpoint (where nothing answers), not the environment's.
    await ok(dir, "remote", "add", "own", "cloudbridge::s3://folder-bucket/folder");
    const own = await execFileAsync("git", ["ls-remote", "own"], {
      cwd: dir,
      env: { ...env, AWS_MAX_ATTEMPTS: "1" },
      timeout: 60_000,
    }).then(
      () => undefined,
      (error: { stderr: string }) => error.stderr,
    );
    assert.match(own ?? "it worked", /Cannot reach the S3 endpoint.*127\.0\.0\.1:9/);
  });

  it("a malformed cloudbridge.endpoint or AWS_ENDPOINT_URL fails the fetch and the push at once, naming the setting and what to write", async () => {
    const dir = join(work.path, "bad-endpoint");
    await mkdir(dir);
    await ok(dir, "init", "-q");
    await commit(dir, "one.txt", "one\n");
    const url = `cloudbridge::s3://${t.cloud.bucket}/team/bad-endpoint`;
    await ok(dir, "remote", "add", "origin", url);
    await ok(dir, "config", "cloudbridge.endpoint", "localhost:4566");
    for (const args of [
      ["ls-remote", "origin"],
      ["push", "-q", "origin", "main"],
    ]) {
      const refused = await git(dir, ...args);
      assert.notEqual(refused.code, 0);
      assert.match(
        refused.stderr,
        /The endpoint "localhost:4566" in cloudbridge\.endpoint \(git config cloudbridge\.endpoint URL\) is not valid/,
      );
      assert.match(refused.stderr, /Write it as http:\/\/HOST:PORT/);
    }
    await ok(dir, "config", "--unset", "cloudbridge.endpoint");
    const fromEnvironment = await execFileAsync("git", ["ls-remote", "origin"], {
      cwd: dir,
      env: { ...env, AWS_ENDPOINT_URL: "http//127.0.0.1:4566" },
    }).then(
      () => "it worked",
      (error: { stderr: string }) => error.stderr,
    );
    assert.match(fromEnvironment, /The endpoint "http\/\/127\.0\.0\.1:4566" in the environment's AWS_ENDPOINT_URL is not valid/);
    assert.equal((await git(dir, "ls-remote", "origin")).code, 0, "nothing was left behind that stops the next command");
  });

  it("git reads the repository's config while the helper's Node starts, not after: the helper starts no `git config` of its own, and its settings still apply", async () => {
    const dir = join(work.path, "config-early");
    await mkdir(dir);
    await ok(dir, "init", "-q");
    const first = await commit(dir, "one.txt", "one\n");
    await ok(dir, "remote", "add", "origin", `cloudbridge::s3://${t.cloud.bucket}/config-early`);
    // git's trace2 events name each git process's command line and the programs it was started by.
    const trace = join(work.path, "config-early.trace");
    const traced = { ...env, GIT_TRACE2_EVENT: trace };
    await execFileAsync("git", ["push", "-q", "origin", "main"], { cwd: dir, env: traced, timeout: 60_000 });
    assert.equal((await execFileAsync("git", ["ls-remote", "origin", "main"], { cwd: dir, env: traced })).stdout.split("\t")[0], first);
    const events = (await readFile(trace, "utf8"))
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as { event: string; sid: string; argv?: string[]; ancestry?: string[] });
    const commands = new Map(events.flatMap((e) => (e.event === "start" ? [[e.sid, e.argv!.slice(1).join(" ")] as const] : [])));
    const configReads = events.filter((e) => e.event === "cmd_ancestry" && commands.get(e.sid) === "config --null --list");
    assert.equal(configReads.length, 2, "one for the push, one for ls-remote");
    for (const read of configReads) assert.equal(read.ancestry![0], "bash", "started by the launcher, not by the helper's Node");
    // What the launcher read is what the helper goes by: a malformed endpoint set here is refused, named.
    await ok(dir, "config", "cloudbridge.endpoint", "localhost:4566");
    const refused = await execFileAsync("git", ["ls-remote", "origin"], { cwd: dir, env }).then(
      () => "it worked",
      (error: { stderr: string }) => error.stderr,
    );
    assert.match(refused, /The endpoint "localhost:4566" in cloudbridge\.endpoint/);
  });

  it("begins the push's pack while git decides what to push: pack-objects is running once `list for-push` is answered, and a conversation with no push leaves neither it nor its folder", async () => {
    const dir = join(work.path, "pack-ahead");
    await mkdir(dir);
    await ok(dir, "init", "-q");
    const pushed = await commit(dir, "one.txt", "one\n");
    const url = `cloudbridge::s3://${t.cloud.bucket}/pack-ahead`;
    await ok(dir, "remote", "add", "origin", url);
    const gitDir = join(dir, ".git");
    const scratchFolders = async () =>
      (await readdir(join(gitDir, "objects"))).filter((name) => name.startsWith("tmp_objdir-cloudbridge-push-"));
    /** The pack-objects processes writing into this repository's scratch folders (their command lines name them). */
    const packing = async () => {
      const found: string[] = [];
      for (const pid of (await readdir("/proc")).filter((name) => /^\d+$/.test(name))) {
        const line = await readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "");
        if (line.includes("pack-objects") && line.includes(join(gitDir, "objects", "tmp_objdir-cloudbridge-push-"))) found.push(pid);
      }
      return found;
    };
    // The helper as git starts it, git's side of the conversation played here.
    const converse = async (untilList: (answer: string) => Promise<string[]>) => {
      const helper = spawn("git-remote-cloudbridge", ["origin", url], {
        env: { ...env, GIT_DIR: gitDir },
        stdio: ["pipe", "pipe", "inherit"],
      });
      let said = "";
      helper.stdout.on("data", (chunk: Buffer) => (said += chunk.toString()));
      /** git's question and the helper's answer: one line, or a batch of lines ended by a blank one. */
      const answer = async (question: string, oneLine = false) => {
        const from = said.length;
        helper.stdin.write(question);
        const done = () => (oneLine ? said.slice(from).endsWith("\n") : said.slice(from) === "\n" || said.slice(from).endsWith("\n\n"));
        for (let waited = 0; !done(); waited += 10) {
          if (waited > 30_000) {
            helper.kill();
            assert.fail(`no answer to ${JSON.stringify(question)}: ${said}`);
          }
          await sleep(10);
        }
        return said.slice(from);
      };
      const ended = new Promise<number | null>((resolve) => helper.once("close", resolve));
      await answer("capabilities\n");
      await answer("option verbosity 0\n", true);
      const rest = await untilList(await answer("list for-push\n"));
      for (const question of rest) await answer(question);
      helper.stdin.end("\n");
      assert.equal(await ended, 0);
      return said;
    };
    const said = await converse(async (listed) => {
      assert.equal(listed, "\n", "an empty repository");
      assert.equal((await scratchFolders()).length, 1, "the push's scratch folder is made");
      assert.equal((await packing()).length, 1, "and pack-objects runs, waiting for what to pack");
      return ["push refs/heads/main:refs/heads/main\n\n"];
    });
    assert.match(said, /ok refs\/heads\/main\n\n$/);
    assert.deepEqual(await scratchFolders(), [], "the push removed its scratch folder");
    assert.equal((await ok(dir, "ls-remote", "origin", "main")).split("\t")[0], pushed, "the pack begun early holds the push");
    const clone = join(work.path, "pack-ahead-clone");
    await ok(work.path, "clone", "-q", url, clone);
    await ok(clone, "fsck", "--strict");
    // git asks for the refs, finds nothing to push, and ends the conversation: what was begun ends with it.
    await converse(async () => {
      assert.equal((await packing()).length, 1);
      return [];
    });
    assert.deepEqual(await scratchFolders(), []);
    assert.deepEqual(await packing(), []);
    // As git itself does it.
    assert.match((await git(dir, "push", "origin", "main")).stderr, /Everything up-to-date/);
    assert.deepEqual(await scratchFolders(), []);
    assert.deepEqual(await packing(), []);
  });

  it("the helper loads none of Node's modules a push or fetch has no use for (readline, perf_hooks), and zlib only once it needs it", async () => {
    const dir = join(work.path, "lean");
    await mkdir(dir);
    await ok(dir, "init", "-q");
    await commit(dir, "one.txt", "one\n");
    await ok(dir, "remote", "add", "origin", `cloudbridge::s3://${t.cloud.bucket}/lean`);
    const modules = join(work.path, "lean.modules");
    const traced = { ...env, NODE_OPTIONS: loadedModulesArgs().join(" "), CLOUDBRIDGE_TEST_LOADED_MODULES: modules };
    for (const args of [
      ["push", "-q", "origin", "main"],
      ["fetch", "-q", "origin"],
    ]) {
      await execFileAsync("git", args, { cwd: dir, env: traced, timeout: 60_000 });
      const loaded = (await readFile(modules, "utf8")).split("\n");
      // The bundle ran (through bin/run-bundle.cjs, which compiles it itself), not the sources.
      assert.ok(loaded.includes(pathToFileURL(resolve("bin/run-bundle.cjs")).href), `the bundle ran: ${loaded.join(" ")}`);
      assert.ok(!loaded.some((url) => url.endsWith("/gitstore/remote-helper/main.ts")), "not the sources");
      assert.ok(loaded.includes("node:http"), "built-ins are listed");
      assert.deepEqual(
        loaded.filter((name) => ["node:readline", "node:perf_hooks"].includes(name)),
        [],
        `git ${args[0]}`,
      );
    }
    // A push whose every answer is known already (nothing to send) reads no object and checks no body: no zlib.
    await execFileAsync("git", ["push", "-q", "origin", "main"], { cwd: dir, env: traced, timeout: 60_000 });
    assert.ok(!(await readFile(modules, "utf8")).split("\n").includes("node:zlib"), "git push with nothing to push");
  });

  it("git has its answer once the refs index holds the push: packed-refs and HEAD (for copies on disk) follow it, and their failure is a warning, not a push refused", async () => {
    // A proxy in front of the cloud that refuses every PUT of packed-refs, as a bucket policy could.
    const upstream = new URL(t.cloud.env.AWS_ENDPOINT_URL!);
    let refused = 0;
    const proxy = createServer((req, res) => {
      if (req.method === "PUT" && (req.url ?? "").split("?")[0]!.endsWith("/packed-refs")) {
        refused += 1;
        req.resume();
        res.writeHead(403, { "content-type": "application/xml" });
        res.end("<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>");
        return;
      }
      forwardTo(upstream, req, res);
    });
    await new Promise<void>((listening) => proxy.listen(0, "127.0.0.1", listening));
    try {
      const proxied = { ...env, AWS_ENDPOINT_URL: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}` };
      const dir = join(work.path, "server-info-fails");
      await mkdir(dir);
      await ok(dir, "init", "-q");
      await ok(dir, "remote", "add", "origin", `cloudbridge::s3://${t.cloud.bucket}/server-info-fails`);
      // The repository's first push (packed-refs and HEAD), then one that moves its branch (packed-refs).
      for (const file of ["one.txt", "two.txt"]) {
        const pushed = await commit(dir, file, `${file}\n`);
        const run = await execFileAsync("git", ["push", "origin", "main"], { cwd: dir, env: proxied, timeout: 60_000 }).then(
          ({ stderr }) => ({ code: 0, stderr }),
          (error: { code: number; stderr: string }) => error,
        );
        assert.equal(run.code, 0, run.stderr);
        assert.match(run.stderr, /warning: the push landed; the bucket's packed-refs and HEAD, .* were not written .*Access Denied/);
        assert.equal(await ok(dir, "rev-parse", "refs/remotes/origin/main"), pushed, "git took the push as landed");
        assert.equal((await ok(dir, "ls-remote", "origin", "main")).split("\t")[0], pushed, "the index holds it");
      }
      assert.equal(refused, 2);
    } finally {
      await new Promise((closed) => (proxy.closeAllConnections(), proxy.close(closed)));
    }
  });

  it("git has its answer once the bucket holds the push, not once this machine has noted it: a push whose local note fails is still said to have landed, with a warning", async () => {
    const dir = join(work.path, "note-fails");
    await mkdir(dir);
    await ok(dir, "init", "-q");
    await commit(dir, "one.txt", "one\n");
    await ok(dir, "remote", "add", "origin", `cloudbridge::s3://${t.cloud.bucket}/note-fails`);
    await ok(dir, "push", "-q", "origin", "main");
    // The catalog of the bucket's packs where a folder should be: noting the next pack in it fails.
    const catalog = join(dir, ".git", "cloudbridge", "bucket-packs");
    await rm(catalog, { recursive: true, force: true });
    await writeFile(catalog, "not a folder\n");
    const second = await commit(dir, "two.txt", "two\n");
    const pushed = await git(dir, "push", "origin", "main");
    assert.equal(pushed.code, 0, pushed.stderr);
    assert.match(pushed.stderr, /warning: the push landed; noting it on this machine failed: .*bucket-packs/);
    assert.equal(await ok(dir, "rev-parse", "refs/remotes/origin/main"), second, "git took the push as landed");
    assert.equal((await ok(dir, "ls-remote", "origin", "main")).split("\t")[0], second);
  });

  it(`${PUSHERS} racing pushers: each push lands or is rejected as git would; none is lost, and all land after pull`, async () => {
    const url = `cloudbridge::s3://${t.cloud.bucket}/race`;
    const seed = join(work.path, "seed");
    await mkdir(seed);
    await ok(seed, "init", "-q");
    await commit(seed, "README", "race\n");
    await ok(seed, "push", "-q", url, "main");
    const clones = await Promise.all(
      Array.from({ length: PUSHERS }, async (_, i) => {
        await ok(work.path, "clone", "-q", url, `racer-${i}`);
        const dir = join(work.path, `racer-${i}`);
        return { dir, oid: await commit(dir, `racer-${i}.txt`, `racer ${i}\n`) };
      }),
    );
    const round = await Promise.all(clones.map(({ dir }) => git(dir, "push", "origin", "main")));
    const landed = clones.filter((_, i) => round[i]!.code === 0);
    assert.ok(landed.length >= 1, "at least one push lands");
    round.forEach((run, i) => {
      if (run.code !== 0)
        assert.match(run.stderr, /\[(remote )?rejected\]\s+main -> main \((fetch first|non-fast-forward)\)/, `racer ${i}`);
    });
    const checker = join(work.path, "checker");
    await ok(work.path, "clone", "-q", url, checker);
    for (const { oid } of landed) await ok(checker, "merge-base", "--is-ancestor", oid, "origin/main");

    // The rejected ones do what git tells them (pull, then push) until every commit is in.
    await Promise.all(
      clones.map(async ({ dir }, i) => {
        for (let attempt = 0; round[i]!.code !== 0 && attempt < 20; attempt++) {
          await ok(dir, "pull", "-q", "--no-rebase", "--no-edit", "origin", "main");
          round[i] = await git(dir, "push", "origin", "main");
        }
        assert.equal(round[i]!.code, 0, round[i]!.stderr);
      }),
    );
    await ok(checker, "pull", "-q", "--no-rebase", "--no-edit");
    for (const { oid } of clones) await ok(checker, "merge-base", "--is-ancestor", oid, "origin/main");
    await ok(checker, "fsck", "--strict", "--no-dangling");
  });
});
