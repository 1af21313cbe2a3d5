import assert from "node:assert/strict";
import { execFile, execFileSync, spawn } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { mkdtemp, readdir, readFile, rm, stat, unlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { describe, it } from "node:test";
import { cli, cliOk, waitUntil } from "../../helpers/agents.ts";
import { attacker, deepTree, treeBomb } from "../../helpers/bucket-attacker.ts";
import { startCountingProxy } from "../../helpers/counting-proxy.ts";
import { damageIndexedRef, setIndexedRefs } from "../../helpers/git-cloud.ts";
import { exists, snapshot } from "../../helpers/folders.ts";
import { peakRssEnv } from "../../helpers/peak-rss.ts";
import { useAgentCloud } from "../../helpers/test-bed.ts";

const execFileAsync = promisify(execFile);

/**
 * One write to the bucket, or one ordinary machine, must not stop every machine: a `.gitattributes` in
 * the folder, a temporary folder on another file system, a git-annex log named with a newline, a
 * dangling ref of a made-up agent, trees that expand to millions of paths, huge ref files, a large plain
 * file, an interrupted clone. Attackers write through cloudbridge's own git layer (helpers/bucket-attacker.ts);
 * honest machines are the real CLI and daemon against the local cloud.
 */
describe("one write, or one ordinary setup, stops no machine", () => {
  const bed = useAgentCloud("e2e-bucket");

  /** A first machine on a new repository, with `files` synced. */
  async function firstMachine(repo: string, files: Record<string, string | Buffer> = { "honest.txt": "honest\n" }, extraEnv = bed.env) {
    const url = `s3://cloudbridge/${repo}`;
    const root = bed.path(repo);
    const A = join(root, "a");
    await cliOk(["init", A, "--remote", url, "--listen", "poll", "--poll-interval", "1"], extraEnv);
    for (const [name, content] of Object.entries(files)) await writeFile(join(A, name), content);
    await cliOk(["sync", A], extraEnv);
    return { url, root, A };
  }

  /** A change made on B reaches A (a running daemon), and one made on A reaches B (by `sync`). */
  async function bothWays(A: string, B: string) {
    await writeFile(join(B, "from-b.txt"), "b\n");
    await cliOk(["sync", B], bed.env);
    await waitUntil(async () => (await exists(join(A, "from-b.txt"))) || undefined, "the daemon to keep syncing", 30_000);
    await writeFile(join(A, "from-a.txt"), "a\n");
    await waitUntil(
      async () => {
        await cliOk(["sync", B], bed.env);
        return (await exists(join(B, "from-a.txt"))) || undefined;
      },
      "the daemon to push",
      30_000,
      500,
    );
  }

  const git = (dir: string, ...args: string[]) =>
    execFileSync("git", args, { cwd: dir, env: { ...process.env, GIT_CONFIG_GLOBAL: "/dev/null" } })
      .toString()
      .trim();

  it("clones and catches up a folder with a .gitattributes, and still refuses a hostile .gitmodules met in another pack", async () => {
    const { url, root, A } = await firstMachine("attributes", { ".gitattributes": "*.txt text\n", "a.txt": "a\n" });
    const B = join(root, "b");
    await cliOk(["clone", url, B], bed.env);
    // Each change in the top folder makes a pack whose root tree names .gitattributes without carrying it.
    await writeFile(join(A, "b.txt"), "b\n");
    await cliOk(["sync", A], bed.env);
    await writeFile(join(A, "c.txt"), "c\n");
    await cliOk(["sync", A], bed.env);
    const C = join(root, "c");
    const cloned = await cli(["clone", url, C], bed.env);
    assert.equal(cloned.code, 0, `a new clone: ${cloned.stderr}`);
    assert.deepEqual(await snapshot(C), await snapshot(A));
    const caughtUp = await cli(["sync", B], bed.env);
    assert.equal(caughtUp.code, 0, `catch-up: ${caughtUp.stderr}`);
    assert.deepEqual(await snapshot(B), await snapshot(A));

    // The attacker pushes a .gitmodules blob under an innocent name first, then a tree naming it .gitmodules:
    // the second pack lacks the blob, which git's checks must still read from the first.
    const evil = await attacker(bed.t, "attributes", root);
    const base = (await evil.head())!;
    const payload = evil.blob('[submodule "x"]\n\tpath = x\n\turl = --upload-pack=touch${IFS}/tmp/cloudbridge-pwned\n');
    const baseTree = evil.git(["rev-parse", `${base}^{tree}`]);
    const entries = evil.entries(baseTree);
    const innocent = evil.commit(evil.tree([...entries, ["100644", "notes.txt", payload]]), [base]);
    await evil.push("refs/heads/main", innocent);
    const D = join(root, "d");
    await cliOk(["clone", url, D], bed.env); // holds the blob now, as an innocent file
    const hostile = evil.commit(evil.tree([...entries, ["100644", ".gitmodules", payload]]), [innocent]);
    await evil.push("refs/heads/main", hostile);
    for (const [who, run] of [
      ["a new clone", () => cli(["clone", url, join(root, "e")], bed.env)],
      ["a machine catching up", () => cli(["sync", D], bed.env)],
    ] as const) {
      const refused = await run();
      assert.notEqual(refused.code, 0, `${who} took the hostile .gitmodules`);
      assert.match(refused.stderr, /gitmodulesUrl|disallowed submodule url/, who);
    }
    assert.equal(await exists(join(D, ".gitmodules")), false);
  });

  it("pushes, clones, compacts and transfers content when the temporary folder is on another file system", async () => {
    const tmp = await mkdtemp("/dev/shm/cloudbridge-tmpdir-");
    try {
      assert.notEqual((await stat(tmp)).dev, (await stat(bed.path(""))).dev, "TMPDIR must be on another file system for this test");
      const tmpEnv = { ...bed.env, TMPDIR: tmp };
      const { url, root, A } = await firstMachine("tmpfs", { "a.txt": "a\n" }, tmpEnv);
      await writeFile(join(A, "big.bin"), randomBytes(2 * 1024 * 1024)); // annexed (over the default 1 MiB)
      await writeFile(join(A, "b.txt"), "b\n");
      await cliOk(["sync", A], tmpEnv);
      const B = join(root, "b");
      await cliOk(["clone", url, B], tmpEnv);
      assert.deepEqual(await snapshot(B), await snapshot(A));
      await writeFile(join(B, "from-b.txt"), "b\n");
      await cliOk(["sync", B], tmpEnv);
      await cliOk(["sync", A], tmpEnv);
      assert.equal(await readFile(join(A, "from-b.txt"), "utf8"), "b\n");
      await cliOk(["compact", `cloudbridge::${url}`, "--min-packs", "2"], tmpEnv);
      assert.match(git(B, "cat-file", "-p", "HEAD:big.bin"), /annex\/objects\/SHA256E-s2097152--/, "big.bin is annexed");
      for (const command of ["drop", "get"]) {
        const run = await cli([command, "big.bin"], tmpEnv, { cwd: B });
        assert.equal(run.code, 0, `${command}: ${run.stderr}`);
      }
      assert.deepEqual(await snapshot(B), await snapshot(A));
      await cliOk(["clone", url, join(root, "c")], tmpEnv);
      assert.deepEqual(await snapshot(join(root, "c")), await snapshot(A));
      // A plain git user, through the remote helper.
      const helperEnv = { ...tmpEnv, PATH: `${fileURLToPath(new URL("../../../bin", import.meta.url))}:${bed.env.PATH}` };
      const plain = join(root, "plain");
      // Not execFileSync: the local cloud runs in this process.
      const plainGit = (args: string[], cwd = plain) => execFileAsync("git", args, { cwd, env: helperEnv, timeout: 60_000 });
      await plainGit(["clone", "-q", `cloudbridge::${url}`, plain], root);
      await writeFile(join(plain, "plain.txt"), "plain\n");
      await plainGit(["add", "plain.txt"]);
      await plainGit(["-c", "user.name=p", "-c", "user.email=p@p", "commit", "-qm", "plain"]);
      await plainGit(["push", "-q", "origin", "HEAD:main"]);
      await cliOk(["sync", A], tmpEnv);
      assert.equal(await readFile(join(A, "plain.txt"), "utf8"), "plain\n");
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  });

  it("skips a git-annex log named with a newline, and every machine and new clone keeps syncing", async () => {
    const { url, root, A } = await firstMachine("annexlog");
    const daemon = await bed.daemon(A, ["--debounce", "50"]);
    const evil = await attacker(bed.t, "annexlog", root);
    const annexHead = (await evil.head("refs/heads/git-annex"))!;
    const treeOf = (commit: string) => evil.git(["rev-parse", `${commit}^{tree}`]);
    const logs = evil.tree([["100644", "evil\nname.log", evil.blob("1700000000s 1 00000000-0000-0000-0000-000000000001\n")]]);
    const rootEntries = evil.entries(treeOf(annexHead));
    const hostile = evil.commit(evil.tree([...rootEntries, ["40000", "zzz", logs]]), [annexHead]);
    await evil.push("refs/heads/git-annex", hostile);

    const B = join(root, "b");
    const cloned = await cli(["clone", url, B], bed.env);
    assert.equal(cloned.code, 0, `a new clone: ${cloned.stderr}`);
    // The clone merged its own git-annex branch with the attacker's: the name is reported, escaped.
    assert.match(cloned.stderr, /zzz\/evil\\nname\.log/);
    assert.deepEqual(await snapshot(B), await snapshot(A));
    await bothWays(A, B);
    assert.equal(
      daemon.events.some((e) => e.event === "sync.failed"),
      false,
      `no failed round: ${JSON.stringify(daemon.events.filter((e) => e.event === "sync.failed"))}`,
    );
  });

  it("reports and skips a dangling synced ref of a made-up agent; every machine and new clone keeps syncing", async () => {
    const { url, root, A } = await firstMachine("dangling");
    await bed.daemon(A, ["--debounce", "50"]);
    const evil = await attacker(bed.t, "dangling", root);
    const ghost = randomUUID();
    const missing = randomBytes(20).toString("hex");
    await damageIndexedRef(evil.ctx.store, evil.ctx.layout, "dangling", `refs/synced/${ghost}/heads/main`, missing);

    const B = join(root, "b");
    const cloned = await cli(["clone", url, B], bed.env);
    assert.equal(cloned.code, 0, `a new clone: ${cloned.stderr}`);
    assert.match(cloned.stderr, new RegExp(`refs/synced/${ghost}/heads/main`));
    assert.deepEqual(await snapshot(B), await snapshot(A));
    await bothWays(A, B);
  });

  it("a shared main naming a commit no pack holds: every machine stops with an error saying how to put it right, and that puts it right, nothing lost", async () => {
    const { url, root, A } = await firstMachine("forged-main");
    const B = join(root, "b");
    await cliOk(["clone", url, B], bed.env);
    const evil = await attacker(bed.t, "forged-main", root);
    await setIndexedRefs(evil.ctx.store, evil.ctx.layout, "forged-main", new Map([["refs/heads/main", randomBytes(20).toString("hex")]]));
    await writeFile(join(B, "from-b.txt"), "b\n");
    const stopped = await cli(["sync", B], bed.env);
    assert.equal(stopped.code, 1);
    assert.match(stopped.stderr, /point at objects no pack .* holds/);
    // What the error tells the person to run, run as it says (in the folder whose files are right).
    const advice = /`(git push --force [^`]+)`/.exec(stopped.stderr)?.[1];
    assert.ok(advice, `the error names the command that puts the bucket right:\n${stopped.stderr}`);
    // Not execFileSync: the local cloud answers from this process.
    await execFileAsync("sh", ["-c", advice], {
      cwd: A,
      env: { ...bed.env, PATH: `${join(fileURLToPath(new URL("../../..", import.meta.url)), "bin")}:${bed.env.PATH}` },
    });
    await cliOk(["sync", B], bed.env);
    await cliOk(["sync", A], bed.env);
    assert.equal(await readFile(join(A, "from-b.txt"), "utf8"), "b\n");
  });

  it("refs index lines naming no ref (`..`, an absolute path, `.git/`) beside its refs: reported and skipped, every machine keeps syncing, the next push drops them", async () => {
    const { url, root, A } = await firstMachine("hostile-index");
    const B = join(root, "b");
    await cliOk(["clone", url, B], bed.env);
    const evil = await attacker(bed.t, "hostile-index", root);
    const key = evil.ctx.layout.infoRefs("hostile-index");
    const index = await evil.ctx.store.get(key);
    assert.ok(index && index !== "not-modified");
    const main = /^([0-9a-f]{40})\trefs\/heads\/main$/m.exec(index.body.toString())![1]!;
    const hostile = [
      "refs/heads/../../../../tmp/evil",
      "/etc/passwd",
      "refs/synced/../../.git/hooks/pre-commit",
      ".git/config",
      // A ref name git accepts, under refs/synced/ but with no agent's id.
      "refs/synced/not-an-agent/heads/main",
    ];
    await evil.ctx.store.put(key, `${index.body.toString()}${hostile.map((name) => `${main}\t${name}\n`).join("")}`);
    await writeFile(join(B, "from-b.txt"), "b\n");
    const synced = await cli(["sync", B], bed.env);
    assert.equal(synced.code, 0, synced.stderr);
    assert.match(synced.stderr, /etc\/passwd/, "each line skipped is reported");
    await cliOk(["sync", A], bed.env);
    assert.equal(await readFile(join(A, "from-b.txt"), "utf8"), "b\n");
    const after = await evil.ctx.store.get(key);
    assert.ok(after && after !== "not-modified");
    for (const name of hostile) assert.ok(!after.body.toString().includes(name), `the push dropped ${name}`);
  });

  it("an idle sync costs the same whatever the number of synced refs", async (test) => {
    const proxy = await startCountingProxy(bed.t.cloud.endpoint);
    try {
      const proxied = { ...bed.env, AWS_ENDPOINT_URL: proxy.endpoint };
      const { A, root } = await firstMachine("idle", { "a.txt": "a\n" }, proxied);
      await cliOk(["sync", A], proxied);
      proxy.reset();
      await cliOk(["sync", A], proxied);
      const before = [...proxy.s3Requests];

      // 1,100 other agents' synced refs in the refs index, then one ordinary push.
      const evil = await attacker(bed.t, "idle", root);
      const head = (await evil.head())!;
      await setIndexedRefs(
        evil.ctx.store,
        evil.ctx.layout,
        "idle",
        new Map(Array.from({ length: 1100 }, () => [`refs/synced/${randomUUID()}/heads/main`, head])),
      );
      await evil.push("refs/heads/main", evil.commit(evil.git(["rev-parse", `${head}^{tree}`]), [head], "one more"), "reject");
      await cliOk(["sync", A], proxied); // learns the new refs once
      proxy.reset();
      await cliOk(["sync", A], proxied);
      const afterRefs = [...proxy.s3Requests];
      test.diagnostic(`idle sync: ${before.length} S3 requests with 2 synced refs, ${afterRefs.length} with 1,102`);
      assert.ok(
        afterRefs.length <= before.length,
        `an idle sync cost ${before.length} S3 requests before and ${afterRefs.length} with 1,100 more synced refs:\n${afterRefs.slice(0, 20).join("\n")}`,
      );
    } finally {
      await proxy.stop();
    }
  });

  it("refuses trees past the path-count and depth bounds before writing anything, and skips them in a branch nobody syncs", async (test) => {
    const { url, root, A } = await firstMachine("bomb");
    const evil = await attacker(bed.t, "bomb", root);
    const base = (await evil.head())!;
    // 8 tree objects, under 1 KiB in all, that expand to 10 million paths.
    const bomb = evil.commit(treeBomb(evil, 10, 7), [base], "bomb");
    const deep = evil.commit(deepTree(evil, 300), [base], "deep");
    // In another agent's synced ref: skipped, nothing stops.
    await evil.push("refs/heads/topic", bomb, "force");
    const B = join(root, "b");
    const peak = join(root, "peak-rss");
    const cloned = await cli(["clone", url, B], { ...bed.env, ...peakRssEnv(peak) });
    assert.equal(cloned.code, 0, `a new clone: ${cloned.stderr}`);
    assert.deepEqual(await snapshot(B), await snapshot(A));

    for (const [what, commit, bound] of [
      ["10 million paths", bomb, /more than 1,000,000 paths/],
      ["300 folders deep", deep, /more than 256 folders deep/],
    ] as const) {
      await evil.push("refs/heads/main", commit, "force");
      const C = join(root, `c-${randomBytes(3).toString("hex")}`);
      const started = performance.now();
      const refused = await cli(["clone", url, C], { ...bed.env, ...peakRssEnv(peak) });
      test.diagnostic(`${what}: the clone refused in ${Math.round(performance.now() - started)} ms`);
      assert.notEqual(refused.code, 0, `${what}: the clone must refuse`);
      assert.match(refused.stderr, bound, what);
      assert.deepEqual(await snapshot(C).catch(() => ({})), {}, `${what}: nothing written`);
      const sync = await cli(["sync", B], { ...bed.env, ...peakRssEnv(peak) });
      assert.notEqual(sync.code, 0, `${what}: a sync must refuse`);
      assert.match(sync.stderr, bound, what);
      assert.deepEqual(await snapshot(B), await snapshot(A), `${what}: the folder is as it was`);
    }
    const peaks = (await readFile(peak, "utf8")).trim().split("\n").map(Number);
    test.diagnostic(`peak memory of the CLI runs: ${peaks.map((k) => `${Math.round(k / 1024)} MiB`).join(", ")}`);
    assert.ok(
      Math.max(...peaks) < 400 * 1024,
      `peak memory of the refusing processes: ${peaks.map((k) => `${Math.round(k / 1024)} MiB`).join(", ")}`,
    );
  });

  it("reads refs with a byte limit: a 128 MiB ref file costs neither memory nor a stop; a 128 MiB refs index is refused in bounded memory", async (test) => {
    const { url, root, A } = await firstMachine("hugeref");
    const evil = await attacker(bed.t, "hugeref", root);
    const store = evil.ctx.store;
    const huge = Buffer.alloc(128 * 1024 * 1024, "0");
    const ghost = randomUUID();
    // A ref file (the format 2 layout) beside the index: never read whole, never used.
    await store.put(evil.ctx.layout.syncedRef("hugeref", ghost, "refs/heads/main"), huge);
    const peak = join(root, "peak-rss");
    const B = join(root, "b");
    const cloned = await cli(["clone", url, B], { ...bed.env, ...peakRssEnv(peak) });
    assert.equal(cloned.code, 0, `a new clone: ${cloned.stderr}`);
    await writeFile(join(B, "from-b.txt"), "b\n");
    const synced = await cli(["sync", B], { ...bed.env, ...peakRssEnv(peak) });
    assert.equal(synced.code, 0, synced.stderr);
    await cliOk(["sync", A], bed.env);
    assert.equal(await readFile(join(A, "from-b.txt"), "utf8"), "b\n");
    // The refs index itself made huge: every ref is in it, so a reader refuses, saying what and where.
    await store.put(evil.ctx.layout.infoRefs("hugeref"), huge);
    const refused = await cli(["clone", url, join(root, "c")], { ...bed.env, ...peakRssEnv(peak) });
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /info\/refs in the bucket holds \d+ bytes or more/);
    const peaks = (await readFile(peak, "utf8")).trim().split("\n").map(Number);
    test.diagnostic(`peak memory of the CLI runs: ${peaks.map((k) => `${Math.round(k / 1024)} MiB`).join(", ")}`);
    assert.ok(Math.max(...peaks) < 350 * 1024, `peak memory: ${peaks.map((k) => `${Math.round(k / 1024)} MiB`).join(", ")}`);
  });

  it("a 128 MiB annex-uuid: a new clone is refused in bounded memory, naming the object and what to do; the machines syncing keep syncing", async (test) => {
    const { url, root, A } = await firstMachine("hugeuuid");
    const B = join(root, "b");
    await cliOk(["clone", url, B], bed.env);
    const evil = await attacker(bed.t, "hugeuuid", root);
    await evil.ctx.store.put(evil.ctx.layout.annexUuid("hugeuuid"), Buffer.alloc(128 * 1024 * 1024, "a"));
    const peak = join(root, "peak-rss");
    const refused = await cli(["clone", url, join(root, "c")], { ...bed.env, ...peakRssEnv(peak) });
    assert.equal(refused.code, 2, refused.stderr);
    assert.match(refused.stderr, /annex\/hugeuuid\/annex-uuid/);
    assert.doesNotMatch(refused.stderr, /agent id/, "it is the cloud's annex uuid, not an agent's");
    const peaks = (await readFile(peak, "utf8")).trim().split("\n").map(Number);
    test.diagnostic(`peak memory of the refused clone: ${Math.round(Math.max(...peaks) / 1024)} MiB`);
    assert.ok(Math.max(...peaks) < 350 * 1024, `peak memory: ${peaks.map((k) => `${Math.round(k / 1024)} MiB`).join(", ")}`);
    await writeFile(join(B, "from-b.txt"), "b\n");
    await cliOk(["sync", B], bed.env);
    await cliOk(["sync", A], bed.env);
    assert.equal(await readFile(join(A, "from-b.txt"), "utf8"), "b\n");
  });

  it("checks out a 48 MiB plain file", async () => {
    const { url, root, A } = await firstMachine("plainbig");
    git(A, "config", "cloudbridge.largefiles.minsize", String(1 << 30));
    const content = randomBytes(48 * 1024 * 1024);
    await writeFile(join(A, "plain.bin"), content);
    await cliOk(["sync", A], bed.env);
    const B = join(root, "b");
    await cliOk(["clone", url, B], bed.env);
    assert.ok((await readFile(join(B, "plain.bin"))).equals(content));
    assert.equal(git(B, "cat-file", "-t", `HEAD:plain.bin`), "blob");
  });

  it("resumes an interrupted clone, and refuses to sync a half-cloned folder", async () => {
    const files: Record<string, string> = {};
    for (let i = 0; i < 3000; i++) files[`f${String(i).padStart(4, "0")}.txt`] = `file ${i}\n`;
    const { url, root, A } = await firstMachine("resume", files);
    const B = join(root, "b");
    // Kill the clone once it has written some files (kill -9: no chance to clean up).
    const child = spawn(
      process.execPath,
      ["--disable-warning=ExperimentalWarning", fileURLToPath(new URL("../../../agent/cli/main.ts", import.meta.url)), "clone", url, B],
      {
        env: bed.env,
        stdio: "ignore",
      },
    );
    const exited = new Promise((resolve) => child.once("exit", resolve));
    await waitUntil(async () => ((await readdir(B).catch(() => [])).length > 50 ? true : undefined), "the clone to write files", 60_000, 5);
    child.kill("SIGKILL");
    await exited;
    const written = (await readdir(B)).filter((n) => n !== ".git").length;
    assert.ok(written < 3000, `the clone was interrupted (${written} files written)`);

    const sync = await cli(["sync", B], bed.env);
    assert.notEqual(sync.code, 0, "a half-cloned folder must not be synced");
    assert.match(sync.stderr, /clone .* was interrupted|interrupted clone/i);

    // Meanwhile the first machine deletes a file the interrupted clone had written, and changes another.
    await unlink(join(A, "f0000.txt"));
    await writeFile(join(A, "f0001.txt"), "changed\n");
    await cliOk(["sync", A], bed.env);

    const resumed = await cli(["clone", url, B], bed.env);
    assert.equal(resumed.code, 0, `the clone resumes: ${resumed.stderr}`);
    assert.deepEqual(await snapshot(B), await snapshot(A));
    await cliOk(["sync", B], bed.env);
    await cliOk(["sync", A], bed.env);
    assert.deepEqual(await snapshot(A), await snapshot(B));
    const roots = git(A, "rev-list", "--max-parents=0", "refs/heads/main").split("\n");
    assert.equal(roots.length, 1, `main has one root commit, not ${roots.length}`);
    assert.deepEqual(
      (await readdir(B)).filter((n) => n.includes(".variant-")),
      [],
    );
  });
});
