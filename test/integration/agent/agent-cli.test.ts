import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdir, readdir, readFile, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { after, before, describe, it } from "node:test";
import { StatCache, statCacheFile } from "../../../agent/sync/stat-cache.ts";
import { S3ObjectStore } from "../../../objectstore/s3-object-store.ts";
import { agentEnv, cli, cliOk } from "../../helpers/agents.ts";
import { loadedModulesArgs } from "../../helpers/loaded-modules.ts";
import { git, tempDir } from "../../helpers/git.ts";
import { startTestCloud, type TestCloud } from "../../helpers/local-cloud.ts";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));

/** The CLI as a person and a script use it: init, clone, sync, status, log, service show, and the errors. */
describe("cloudbridge CLI", () => {
  let scratch: { path: string; remove(): Promise<void> };
  let t: TestCloud;
  let env: Record<string, string>;
  before(async () => {
    scratch = await tempDir("cli");
    t = await startTestCloud();
    env = agentEnv(t.cloud.env);
  });
  after(async () => {
    await t.stop();
    await scratch.remove();
  });

  it("init creates the repository in the bucket once, clone joins it, sync/status/log report in words and JSON", async () => {
    const A = join(scratch.path, "a");
    await mkdir(A);
    await writeFile(join(A, "notes.txt"), "hello\n");
    const init = await cliOk(["init", A, "--remote", "s3://cloudbridge/team/notes", "--description", "laptop"], env);
    assert.match(init.stdout, /Created cloudbridge::s3:\/\/cloudbridge\/team\/notes|Created s3:\/\/cloudbridge\/team\/notes/);
    assert.match(init.stdout, /cloudbridge clone s3:\/\/cloudbridge\/team\/notes DIR/);
    const store = new S3ObjectStore(t.cloud.bucket, t.s3);
    const marker = await store.get("team/cloudbridge.json");
    assert.ok(marker && marker !== "not-modified");
    assert.deepEqual(
      { ...JSON.parse(marker.body.toString()), createdAt: "", createdBy: "" },
      { format: 3, conditionalWrites: true, createdAt: "", createdBy: "" },
    );
    const readme = await store.get("team/README.txt");
    assert.ok(readme && readme !== "not-modified" && /kept by cloudbridge/.test(readme.body.toString()));

    const again = await cli(["init", join(scratch.path, "other"), "--remote", "s3://cloudbridge/team/notes"], env);
    assert.equal(again.code, 2);
    assert.match(again.stderr, /already exists in the bucket: join it with `cloudbridge clone/);

    const B = join(scratch.path, "b");
    const clone = await cliOk(["clone", "s3://cloudbridge/team/notes", B, "--json"], env);
    const cloned = JSON.parse(clone.stdout) as { written: number; agent: string };
    assert.equal(cloned.written, 1);
    assert.equal(await readFile(join(B, "notes.txt"), "utf8"), "hello\n");
    // The clone run again, as after an interrupted one: it is done, and the person is told how it syncs.
    const done = await cli(["clone", "s3://cloudbridge/team/notes", B], env);
    assert.equal(done.code, 2, done.stderr);
    assert.match(
      done.stderr,
      new RegExp(`${B} is a clone of s3://cloudbridge/team/notes already: keep it in sync with \`cloudbridge sync ${B}\``),
    );
    const other = await cli(["clone", "s3://cloudbridge/team/elsewhere", B], env);
    assert.match(
      other.stderr,
      /is a cloudbridge folder of (cloudbridge::)?s3:\/\/cloudbridge\/team\/notes already: clone s3:\/\/cloudbridge\/team\/elsewhere into a new folder/,
    );

    await writeFile(join(B, "notes.txt"), "hello from b\n");
    const status = JSON.parse((await cliOk(["status", B, "--json"], env)).stdout) as {
      localChanges: Array<{ path: string }>;
      agents: unknown[];
      daemon: unknown;
    };
    assert.deepEqual(status.localChanges, [{ path: "notes.txt", change: "changed" }]);
    assert.equal(status.daemon, null);
    const sync = JSON.parse((await cliOk(["sync", B, "--json"], env)).stdout) as { committed?: string; head: string };
    assert.ok(sync.committed);
    const pulled = await cliOk(["sync", A], env);
    assert.match(pulled.stdout, /updated 1 and removed 0 file\(s\) here/);
    assert.equal(await readFile(join(A, "notes.txt"), "utf8"), "hello from b\n");

    const log = JSON.parse((await cliOk(["log", A, "--json", "--files"], env)).stdout) as Array<{
      commit: string;
      files: Array<{ path: string }>;
    }>;
    assert.equal(log[0]!.commit, sync.head);
    assert.deepEqual(
      log[0]!.files.map((f) => f.path),
      ["notes.txt"],
    );
    const human = await cliOk(["status", A], env);
    assert.match(human.stdout, /no local changes waiting/);
    assert.match(human.stdout, /daemon: not running/);

    const unit = await cliOk(["service", "show", A], env);
    assert.match(unit.stdout, new RegExp(`^ExecStart=.* daemon ${A.replaceAll("/", "\\/")}$`, "m"));

    // The key the README has a person export is never copied into the unit: installing says where the
    // service will look for it instead, or the daemon it starts at login has none.
    const config = join(scratch.path, "config-home");
    const installed = await cliOk(["service", "install", A, "--no-start"], { ...env, XDG_CONFIG_HOME: config });
    assert.doesNotMatch(
      await readFile(join(config, "systemd", "user", (await readdir(join(config, "systemd", "user")))[0]!), "utf8"),
      /SECRET|AWS_ACCESS_KEY_ID/,
    );
    assert.match(installed.stdout + installed.stderr, /AWS_ACCESS_KEY_ID.*not copied into the unit.*~\/\.aws\/credentials/s);
    const withProfile = await cliOk(["service", "install", A, "--no-start"], { ...env, XDG_CONFIG_HOME: config, AWS_PROFILE: "sync" });
    assert.doesNotMatch(
      withProfile.stdout + withProfile.stderr,
      /not copied into the unit/,
      "a profile is found by the service as by this shell",
    );
  });

  it("sync in a linked worktree of a folder (git worktree add), beside it or inside it, and init there, refuse saying what to do, and change nothing", async () => {
    const A = join(scratch.path, "worktrees");
    await mkdir(A);
    await writeFile(join(A, "plan.txt"), "plan\n");
    await cliOk(["init", A, "--remote", "s3://cloudbridge/team/worktrees", "--json"], env);
    const head = await git(A, "rev-parse", "HEAD");
    const beside = join(scratch.path, "worktrees-beside");
    await git(A, "worktree", "add", "-q", beside);
    await git(A, "worktree", "add", "-q", "-b", "inside", join(A, "inside"));
    for (const worktree of [beside, join(A, "inside")]) {
      await writeFile(join(worktree, "plan.txt"), "edited in a worktree\n");
      await mkdir(join(worktree, "sub"), { recursive: true });
      for (const [args, cwd] of [
        [["sync"], worktree],
        [["sync"], join(worktree, "sub")],
        [["sync", worktree], ROOT],
        [["status"], worktree],
        [["status", worktree], ROOT],
      ] as const) {
        const refused = await cli([...args], env, { cwd });
        assert.equal(refused.code, 2, `${args.join(" ")} in ${cwd}: ${refused.stdout}${refused.stderr}`);
        assert.match(refused.stderr, new RegExp(`${worktree} is a linked worktree \\(git worktree add\\) of the cloudbridge folder ${A}`));
        assert.match(refused.stderr, new RegExp(`run \`cloudbridge ${args[0]} ${A}\``));
        assert.doesNotMatch(refused.stdout, /PAUSED/);
      }
    }
    // Nor does init make a worktree a folder of its own: its settings would be the folder's (one git config).
    const settings = await git(A, "config", "--get-regexp", "^cloudbridge\\.");
    for (const dir of [beside, join(beside, "new")]) {
      const refused = await cli(["init", dir, "--remote", "s3://cloudbridge/team/in-a-worktree", "--new-history"], env);
      assert.equal(refused.code, 2, refused.stderr);
      assert.match(refused.stderr, new RegExp(`${beside} is a linked worktree \\(git worktree add\\) of the cloudbridge folder ${A}`));
      assert.match(
        refused.stderr,
        new RegExp(`${dir} cannot be a folder of its own there: init a directory outside both.*Nothing was changed`),
      );
    }
    assert.equal(await git(A, "config", "--get-regexp", "^cloudbridge\\."), settings);
    // Nothing of either worktree reached the folder's history or the bucket.
    assert.equal(await git(A, "rev-parse", "HEAD"), head);
    assert.equal(await git(A, "rev-parse", "refs/remotes/cloud/main"), head);
    assert.equal(await readFile(join(A, "plan.txt"), "utf8"), "plan\n");
  });

  it("sync with no daemon, run as people run it (the CLI's bundle), sends and receives without loading the AWS SDK's S3 client or the progress bars", async () => {
    // bin/cloudbridge runs the bundle for `sync`, as after `npm ci`, whatever was edited since (scripts/build-helper.mjs).
    await promisify(execFile)(process.execPath, [join(ROOT, "scripts/build-helper.mjs")]);
    const A = join(scratch.path, "light-a");
    const B = join(scratch.path, "light-b");
    await mkdir(A);
    await writeFile(join(A, "todo.txt"), "one\n");
    await cliOk(["init", A, "--remote", "s3://cloudbridge/team/light", "--json"], env);
    await cliOk(["clone", "s3://cloudbridge/team/light", B, "--json"], env);
    // Each sync's process writes the modules it loaded to a file of its own.
    const sync = async (dir: string, name: string, alsoNotLoaded: string[] = []) => {
      const traced = {
        ...env,
        NODE_OPTIONS: loadedModulesArgs().join(" "),
        CLOUDBRIDGE_TEST_LOADED_MODULES: join(scratch.path, `${name}.modules`),
      };
      const { stdout } = await promisify(execFile)(join(ROOT, "bin/cloudbridge"), ["sync", dir, "--json"], { env: traced });
      const loaded = (await readFile(join(scratch.path, `${name}.modules`), "utf8")).split("\n");
      // The bundle ran (through bin/run-bundle.cjs, which compiles it itself), not the sources.
      assert.ok(loaded.includes(pathToFileURL(join(ROOT, "bin/run-bundle.cjs")).href), `the bundle ran: ${loaded.join(" ")}`);
      assert.ok(!loaded.includes(pathToFileURL(join(ROOT, "agent/cli/main.ts")).href), `not the sources: ${loaded.join(" ")}`);
      // Nor the progress bars' package: --json draws none (~10 ms of every start).
      assert.deepEqual(
        loaded.filter((url) => ["/@aws-sdk/client-s3/", "/cli-progress/", ...alsoNotLoaded].some((part) => url.includes(part))),
        [],
      );
      return JSON.parse(stdout) as { sent: number; written: number; committed?: string; head: string };
    };

    await writeFile(join(A, "todo.txt"), "one\ntwo\n");
    const sent = await sync(A, "sent");
    assert.equal(sent.sent, 1);
    assert.ok(sent.committed);
    // Each bundled module keeps its own file's URL: the sync registered the clean filter by its source file.
    const filter = await git(A, "config", "filter.cloudbridge.process");
    assert.ok(filter.endsWith(` ${join(ROOT, "agent/git-filter/main.ts")}`), filter);
    const received = await sync(B, "received");
    assert.equal(received.written, 1);
    assert.equal(received.head, sent.committed);
    assert.equal(await readFile(join(B, "todo.txt"), "utf8"), "one\ntwo\n");
    // Nothing new on either side: no name is asked whether it is ignored, so the rules' package is not loaded.
    const quiet = await sync(B, "quiet", ["/node_modules/ignore/"]);
    assert.equal(quiet.written + quiet.sent, 0);
    // A failure is said as the sources say it, with its exit code.
    const notFolder = await promisify(execFile)(join(ROOT, "bin/cloudbridge"), ["sync", scratch.path], { env }).catch(
      (error: { code: number; stderr: string }) => error,
    );
    assert.equal((notFolder as { code: number }).code, 2);
    assert.match((notFolder as { stderr: string }).stderr, /is not a cloudbridge folder: run `cloudbridge init/);
  });

  it("init, clone, get, whereis, versions, conflicts, status and log, run as people run them (the CLI's bundle, a code cache each), do what the sources do, get, status and the commands that read on the light S3 client", async () => {
    // bin/cloudbridge runs the bundle for every command but the daemon, as after `npm ci` (scripts/build-helper.mjs).
    await promisify(execFile)(process.execPath, [join(ROOT, "scripts/build-helper.mjs")]);
    const compileCache = join(scratch.path, "bundled-compile-cache");
    /**
     * Runs `bin/cloudbridge ARGS` and checks, in the modules its process loaded, that the bundle ran; and, with
     * `light`, that the bucket was reached without the AWS SDK's S3 client (a command that reads and gets only).
     */
    const asPeople = async (args: string[], options: { cwd?: string; light?: true } = {}) => {
      const modules = join(scratch.path, `bundled-${args[0]}-${randomBytes(4).toString("hex")}.modules`);
      const traced = {
        ...env,
        NODE_COMPILE_CACHE: compileCache,
        NODE_OPTIONS: loadedModulesArgs().join(" "),
        CLOUDBRIDGE_TEST_LOADED_MODULES: modules,
      };
      const result = await promisify(execFile)(join(ROOT, "bin/cloudbridge"), args, { env: traced, cwd: options.cwd ?? ROOT }).then(
        ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
        (error: { code: number; stdout: string; stderr: string }) => ({ code: error.code, stdout: error.stdout, stderr: error.stderr }),
      );
      const loaded = (await readFile(modules, "utf8")).split("\n");
      assert.ok(loaded.includes(pathToFileURL(join(ROOT, "bin/run-bundle.cjs")).href), `${args[0]}: the bundle ran: ${loaded.join(" ")}`);
      assert.ok(!loaded.includes(pathToFileURL(join(ROOT, "agent/cli/main.ts")).href), `${args[0]}: not the sources`);
      if (options.light)
        assert.deepEqual(
          loaded.filter((url) => url.includes("/@aws-sdk/client-s3/")),
          [],
          `${args[0]}: the light S3 client`,
        );
      return result;
    };
    const ok = async (args: string[], options: { cwd?: string; light?: true } = {}) => {
      const result = await asPeople(args, options);
      assert.equal(result.code, 0, `cloudbridge ${args.join(" ")}: ${result.stderr}`);
      return result.stdout;
    };

    const A = join(scratch.path, "bundled-a");
    const B = join(scratch.path, "bundled-b");
    await mkdir(A);
    await writeFile(join(A, "plan.txt"), "plan\n");
    // Past the multipart threshold (16 MiB): sent in parts on the AWS SDK's client, a package the bundle loads
    // from node_modules, and got in ranges hashed on a worker thread, whose module its own finds beside it.
    const content = randomBytes(17 * 1024 * 1024);
    await writeFile(join(A, "big.bin"), content);
    await ok(["init", A, "--remote", "s3://cloudbridge/team/bundled", "--json"]);
    // Each bundled module keeps its own file's URL: init registered the clean filter by its source file.
    const filter = await git(A, "config", "filter.cloudbridge.process");
    assert.ok(filter.endsWith(` ${join(ROOT, "agent/git-filter/main.ts")}`), filter);
    await ok(["clone", "s3://cloudbridge/team/bundled", B, "--wanted", "nothing", "--json"]);
    assert.equal(await readFile(join(B, "plan.txt"), "utf8"), "plan\n");
    assert.ok((await readFile(join(B, "big.bin"))).length < 1024, "a pointer until got");
    await ok(["get", "big.bin"], { cwd: B, light: true });
    assert.deepEqual(await readFile(join(B, "big.bin")), content);
    assert.match(await ok(["whereis", "big.bin"], { cwd: B, light: true }), /^whereis big\.bin \(3 copies\)$/m);
    assert.match(await ok(["versions", "plan.txt"], { cwd: B, light: true }), /^plan\.txt: 1 version\(s\)/);
    assert.equal(await ok(["conflicts", B], { light: true }), "no conflicts\n");
    const status = JSON.parse(await ok(["status", B, "--json", "--offline"], { light: true })) as {
      localChanges: unknown[];
      daemon: unknown;
    };
    assert.deepEqual(status, { ...status, localChanges: [], daemon: null });
    const log = JSON.parse(await ok(["log", A, "--json", "--files"])) as Array<{ commit: string; files: Array<{ path: string }> }>;
    assert.equal(log[0]!.commit, await git(A, "rev-parse", "HEAD"));
    assert.deepEqual(log[0]!.files.map((f) => f.path).sort(), ["big.bin", "plan.txt"]);
    assert.match(await ok(["status", A], { light: true }), /daemon: not running/);
    // A failure is said as the sources say it, with its exit code.
    const notFolder = await asPeople(["status", scratch.path]);
    assert.equal(notFolder.code, 2);
    // As sync says it: not a folder, and the two commands that make one (not the git config it lacks).
    assert.match(
      notFolder.stderr,
      /is not a cloudbridge folder: run `cloudbridge init .* --remote s3:\/\/BUCKET\/REPO` or `cloudbridge clone/,
    );
    const fromSources = await cli(["status", scratch.path], env);
    assert.deepEqual({ code: notFolder.code, stderr: notFolder.stderr }, { code: fromSources.code, stderr: fromSources.stderr });
    // One code cache for each command that ran: what one compiled is not what the next finds.
    const caches = await readdir(join(compileCache, "bundles"));
    const kinds = caches.map((name) => /^cloudbridge\.cjs-[0-9a-f]{16}-([a-z-]+)-v\d/.exec(name)?.[1]).sort();
    assert.deepEqual(kinds, ["clone", "conflicts", "get", "init", "log", "status", "versions", "whereis"]);
  });

  it("says clearly what is wrong, with exit code 2, and creates nothing", async () => {
    const bad = await cli(["init", join(scratch.path, "x"), "--remote", "http://example.com/repo"], env);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /does not start with "s3:\/\/"/);
    const missing = await cli(["clone", "s3://cloudbridge/nothing-here", join(scratch.path, "y")], env);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /there is no repository at .*nothing-here yet: create it with `cloudbridge init/);
    const notFolder = await cli(["sync", scratch.path], env);
    assert.equal(notFolder.code, 2);
    assert.match(notFolder.stderr, /is not a cloudbridge folder: run `cloudbridge init/);
    // A file in no folder: not advice to init it (init refuses a file).
    await writeFile(join(scratch.path, "notes.txt"), "notes\n");
    for (const command of ["sync", "status", "daemon"]) {
      const aFile = await cli([command, join(scratch.path, "notes.txt")], env);
      assert.equal(aFile.code, 2, command);
      assert.match(
        aFile.stderr,
        /notes\.txt is a file, not a cloudbridge folder, and no cloudbridge folder holds it: name the folder to sync/,
        command,
      );
    }
    const repository = join(scratch.path, "full");
    await mkdir(join(repository, ".git"), { recursive: true });
    await writeFile(join(repository, "x"), "x");
    const full = await cli(["clone", "s3://cloudbridge/team/notes", repository], env);
    assert.equal(full.code, 2);
    assert.match(full.stderr, /is a git repository already: clone into a new folder/);
    // A file named where the folder should be: said as such, the file left as it was.
    const file = join(scratch.path, "a-file.txt");
    await writeFile(file, "mine\n");
    for (const args of [
      ["init", file, "--remote", "s3://cloudbridge/team/on-a-file"],
      ["clone", "s3://cloudbridge/team/notes", file],
    ]) {
      const refused = await cli(args, env);
      assert.equal(refused.code, 2, refused.stderr);
      assert.match(refused.stderr, /a-file\.txt is a file, not a folder: name a new folder/);
      assert.doesNotMatch(refused.stderr, /EEXIST|ENOTDIR/);
    }
    assert.equal(await readFile(file, "utf8"), "mine\n");
    const usage = await cli(["init"], env);
    assert.notEqual(usage.code, 0);
    assert.match(usage.stderr, /required option '--remote <url>' not specified|missing required argument 'dir'/);
    const help = await cliOk(["daemon", "--help"], env);
    assert.match(help.stdout, /Keep DIR in sync until stopped/);
  });

  it("init and clone refuse a bad --xmpp-service or --listen before writing anything, here or in the bucket", async () => {
    const dir = join(scratch.path, "bad-settings");
    await mkdir(dir);
    await writeFile(join(dir, "kept.txt"), "mine\n");
    const store = new S3ObjectStore(t.cloud.bucket, t.s3);
    const nothingMade = async () => {
      assert.deepEqual(await readdir(dir), ["kept.txt"], "no .git, nothing else");
      assert.equal(await readFile(join(dir, "kept.txt"), "utf8"), "mine\n");
      assert.equal(await store.get("unmade/cloudbridge.json"), undefined, "the bucket was not written");
    };
    const remote = "s3://cloudbridge/unmade/notes";
    const xmpp = await cli(["init", dir, "--remote", remote, "--xmpp-service", "prosody.example.org:5222"], env);
    assert.equal(xmpp.code, 2);
    await nothingMade();
    assert.match(
      xmpp.stderr,
      /--xmpp-service: cloudbridge\.xmppService is "prosody\.example\.org:5222": it does not start with xmpp:\/\/.*write xmpp:\/\/HOST:PORT.* Nothing was written/,
    );
    const listen = await cli(["init", dir, "--remote", remote, "--listen", "sms"], env);
    assert.equal(listen.code, 2);
    await nothingMade();
    assert.match(listen.stderr, /--listen: cloudbridge\.listen is "sms": use auto, xmpp, sqs or poll/);
    const clone = await cli(["clone", "s3://cloudbridge/team/notes", dir, "--listen", "sms"], env);
    assert.equal(clone.code, 2);
    await nothingMade();
    assert.match(clone.stderr, /--listen: cloudbridge\.listen is "sms"/);
    // Given again right, the same init makes the folder.
    await cliOk(["init", dir, "--remote", remote, "--listen", "poll", "--xmpp-service", "xmpp://127.0.0.1:5222"], env);
    assert.equal(await git(dir, "config", "cloudbridge.listen"), "poll");
  });

  it(
    "init and clone refuse a place no folder can be made (/proc, /sys, a FIFO, a path through a file, an empty name) with exit 2, writing nothing here or in the bucket",
    {
      // Without the check, Node's recursive mkdir under /proc never returns: the test's own timeout says so.
      timeout: 120_000,
    },
    async () => {
      const store = new S3ObjectStore(t.cloud.bucket, t.s3);
      const fifo = join(scratch.path, "a-fifo");
      await promisify(execFile)("mkfifo", [fifo]);
      const file = join(scratch.path, "plain-file");
      await writeFile(file, "mine\n");
      const places: Array<[string, RegExp]> = [
        [
          "/proc/cloudbridge-x",
          /No folder can be made at \/proc\/cloudbridge-x \(in \/proc\): \/proc is on a file system where folders cannot be made/,
        ],
        ["/sys/cloudbridge-x", /No folder can be made at \/sys\/cloudbridge-x \(in \/sys\): this user may not write in \/sys/],
        [fifo, /a-fifo is a named pipe \(FIFO\), not a folder: name a new folder/],
        [join(file, "sub"), /plain-file\/sub cannot be made: .*plain-file is a file, not a folder/],
      ];
      for (const [place, said] of places)
        for (const args of [
          ["init", place, "--remote", "s3://cloudbridge/unplaced/notes"],
          ["clone", "s3://cloudbridge/team/notes", place],
        ]) {
          const refused = await cli(args, env);
          assert.equal(refused.code, 2, `${args.join(" ")}: ${refused.stderr}`);
          assert.match(refused.stderr, said);
          assert.doesNotMatch(refused.stderr, /EPERM|ENOENT|ENOTDIR|EEXIST/);
        }
      // An empty name (a script's unset variable) is not the current directory: that would sync whatever it is.
      const here = join(scratch.path, "where-a-script-runs");
      await mkdir(here);
      await writeFile(join(here, "private.txt"), "not for the bucket\n");
      for (const args of [
        ["init", "", "--remote", "s3://cloudbridge/unplaced/notes"],
        ["clone", "s3://cloudbridge/team/notes", ""],
      ]) {
        const refused = await cli(args, env, { cwd: here });
        assert.equal(refused.code, 2, `${args.join(" ")}: ${refused.stderr}`);
        assert.match(refused.stderr, /The folder was given as an empty name .*: name the folder .*Nothing was written/);
      }
      assert.deepEqual(await readdir(here), ["private.txt"], "the directory it ran in is not made a folder");
      assert.equal(await store.get("unplaced/cloudbridge.json"), undefined, "the bucket was not written");
      assert.equal(await readFile(file, "utf8"), "mine\n");
      assert.deepEqual(
        (await readdir(scratch.path)).filter((name) => name.startsWith(".cloudbridge-probe-")),
        [],
        "no probe left behind",
      );
    },
  );

  it("get puts content in place of a synced folder's pointer file and the folder's stat cache learns its new stat", async () => {
    const A = join(scratch.path, "get-a");
    await mkdir(A);
    const content = randomBytes(1536 * 1024); // above the default largefiles size: annexed
    await writeFile(join(A, "big.bin"), content);
    const second = randomBytes(1536 * 1024);
    await writeFile(join(A, "second.bin"), second);
    await cliOk(["init", A, "--remote", "s3://cloudbridge/getcache"], env);
    const B = join(scratch.path, "get-b");
    await cliOk(["clone", "s3://cloudbridge/getcache", B, "--wanted", "nothing"], env);
    const cacheEntry = async (path = "big.bin") => (await StatCache.load(statCacheFile(join(B, ".git", "cloudbridge")))).entries.get(path);
    assert.ok((await cacheEntry())!.size < 1024, "after the clone the file is a pointer, and the cache says so");

    const got = await cli(["get", "big.bin", "second.bin"], env, { cwd: B });
    assert.equal(got.code, 0, got.stderr);
    assert.deepEqual(await readFile(join(B, "big.bin")), content);
    assert.deepEqual(await readFile(join(B, "second.bin")), second);
    assert.equal((await cacheEntry())!.size, content.length, "the cache holds the placed file's size, not the pointer's");
    assert.equal((await cacheEntry("second.bin"))!.size, second.length, "and every file's the get placed");
    const status = JSON.parse((await cliOk(["status", B, "--json", "--offline"], env)).stdout) as { localChanges: unknown[] };
    assert.deepEqual(status.localChanges, []);

    // A path outside the folder (another folder's file, a system file) is named as such, nothing is done,
    // and the exit code says the command must change: not git's own error about a repository.
    for (const command of ["get", "drop", "whereis"])
      for (const outside of ["/etc/hostname", join(A, "big.bin"), "../get-a/big.bin"]) {
        const refused = await cli([command, outside], env, { cwd: B });
        assert.equal(refused.code, 2, `${command} ${outside}: ${refused.stderr}`);
        assert.match(
          refused.stderr,
          /is outside the folder .*get-b: name files inside it, or run the command in the folder that holds them/,
        );
        assert.doesNotMatch(refused.stderr, /git ls-files|fatal:/);
      }
    assert.deepEqual(await readFile(join(B, "big.bin")), content);
    // The folder reached through a symlink is still the folder, as git sees it.
    await symlink(B, join(scratch.path, "link-to-get-b"));
    const linked = await cli(["whereis", join(scratch.path, "link-to-get-b", "big.bin")], env, { cwd: B });
    assert.equal(linked.code, 0, linked.stderr);
    // Run outside any folder (or in another git repository), a file names its folder, as for versions and restore.
    for (const cwd of [scratch.path, ROOT]) {
      const elsewhere = await cli(["whereis", join(B, "big.bin")], env, { cwd });
      assert.equal(elsewhere.code, 0, `from ${cwd}: ${elsewhere.stderr}`);
      assert.match(elsewhere.stdout, /^whereis big\.bin \(/);
    }
    const nowhere = await cli(["get", "no-folder/x.bin"], env, { cwd: scratch.path });
    assert.equal(nowhere.code, 2, nowhere.stderr);
    assert.match(nowhere.stderr, /is not inside a cloudbridge folder, nor is no-folder\/x\.bin: .*name the folder with --dir/);
  });
});
