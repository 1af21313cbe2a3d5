import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdir, readFile, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { BlobReader, gitSpawnerPid, LocalGitError, runGit, startGitFromSpawner, stopGitSpawner } from "../../../localgit/index.ts";
import { startGit } from "../../../localgit/run.ts";
import { commitFile, initRepo, tempDir } from "../../helpers/git.ts";

const LOCALGIT = new URL("../../../localgit/index.ts", import.meta.url).href;

/** Resolves once process `pid` has exited (gone, or a zombie its new parent has not reaped yet); the test's timeout fails it otherwise. */
async function assertExits(pid: number): Promise<void> {
  for (;;) {
    const stat = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => "");
    // The state is the field after the command's name in parentheses.
    if (!stat || stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z")) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** The pid of the process that started the git running this alias (the alias's shell is git's child). */
const PARENT_OF_GIT = ["-c", "alias.parent=!ps -o ppid= -p $PPID", "parent"];

describe("localgit: git started from the spawner", () => {
  let work: { path: string; remove(): Promise<void> };
  let repo: string;
  let gitDir: string;
  let commit: string;
  before(async () => {
    work = await tempDir("localgit-spawner");
    repo = join(work.path, "repo");
    await mkdir(repo);
    gitDir = await initRepo(repo);
    commit = await commitFile(repo, "a.txt", "one\n");
  });
  after(async () => {
    await stopGitSpawner();
    await work.remove();
  });

  it("runs git from another process than this one, with the same answers, input, environment and folder", async () => {
    const here = await runGit(PARENT_OF_GIT, { cwd: repo });
    assert.equal(Number(here.stdout.toString()), process.pid, "before: git is this process's child");
    const direct = await runGit(["hash-object", "--stdin"], { gitDir, input: "some bytes\n" });
    startGitFromSpawner();
    const spawned = await runGit(PARENT_OF_GIT, { cwd: repo });
    const parent = Number(spawned.stdout.toString());
    assert.ok(parent > 0 && parent !== process.pid, `git's parent is the spawner (${parent}), not this process (${process.pid})`);
    assert.deepEqual(await runGit(["hash-object", "--stdin"], { gitDir, input: "some bytes\n" }), direct);
    // The folder and the environment are the caller's.
    assert.equal((await runGit(["rev-parse", "--show-toplevel"], { cwd: join(repo) })).stdout.toString().trim(), repo);
    assert.equal((await runGit(["rev-parse", "HEAD"], { gitDir })).stdout.toString().trim(), commit);
    const named = await runGit(["var", "GIT_AUTHOR_IDENT"], { env: { GIT_AUTHOR_NAME: "Spawned Name" }, gitDir });
    assert.match(named.stdout.toString(), /^Spawned Name </);
    // A failure is git's, with its message and exit code.
    const failed = await runGit(["rev-parse", "--verify", "no-such-ref"], { gitDir, allowFailure: true });
    assert.equal(failed.code, 128);
    assert.match(failed.stderr, /no-such-ref|Needed a single revision/);
    await assert.rejects(runGit(["rev-parse", "--verify", "no-such-ref"], { gitDir }), (error: unknown) => {
      assert.ok(error instanceof LocalGitError && error.code === "git-failed");
      return true;
    });
    // Many at once, each answered with its own output.
    const many = await Promise.all(Array.from({ length: 20 }, (_, i) => runGit(["hash-object", "--stdin"], { gitDir, input: `${i}\n` })));
    const each = await Promise.all(
      Array.from({ length: 20 }, (_, i) => runGit(["hash-object", "--stdin"], { gitDir, input: `${i}\n`, cwd: repo })),
    );
    assert.deepEqual(
      many.map((r) => r.stdout.toString()),
      each.map((r) => r.stdout.toString()),
    );
    assert.equal(new Set(many.map((r) => r.stdout.toString())).size, 20);
  });

  it("serves a long-lived `cat-file --batch` through it, output of any size in order", async () => {
    startGitFromSpawner();
    const big = Buffer.alloc(3 * 1024 * 1024, "x");
    await writeFile(join(repo, "big.bin"), big);
    const oid = (await runGit(["hash-object", "-w", "big.bin"], { gitDir, cwd: repo })).stdout.toString().trim();
    const reader = new BlobReader(gitDir);
    try {
      const [small, large, missing] = await Promise.all([reader.read(`${commit}:a.txt`), reader.read(oid), reader.read("0".repeat(40))]);
      assert.equal(small?.toString(), "one\n");
      assert.ok(large?.equals(big));
      assert.equal(missing, undefined);
    } finally {
      await reader.close();
    }
    assert.equal(reader.isClosed, true);
  });

  it("passes a 20 MB output and a 5 MB input through intact", async () => {
    startGitFromSpawner();
    assert.ok(gitSpawnerPid(), "the spawner runs");
    const input = randomBytes(5 * 1024 * 1024);
    const stored = await runGit(["hash-object", "-w", "--stdin"], { gitDir, input });
    const expected = createHash("sha1").update(`blob ${input.length}\0`).update(input).digest("hex");
    assert.equal(stored.stdout.toString().trim(), expected);
    const big = randomBytes(20 * 1024 * 1024);
    await writeFile(join(repo, "twenty.bin"), big);
    const oid = (await runGit(["hash-object", "-w", "twenty.bin"], { gitDir, cwd: repo })).stdout.toString().trim();
    const [twenty, five] = await Promise.all([
      runGit(["cat-file", "blob", oid], { gitDir }),
      runGit(["cat-file", "blob", expected], { gitDir }),
    ]);
    assert.ok(twenty.stdout.equals(big), "the 20 MB output is what git wrote");
    assert.ok(five.stdout.equals(input), "the 5 MB input is what git read");
  });

  it(
    "does not deadlock a started `cat-file --batch` whose whole input is written before its output is read",
    { timeout: 120_000 },
    async () => {
      startGitFromSpawner();
      const body = randomBytes(1024);
      const oid = (await runGit(["hash-object", "-w", "--stdin"], { gitDir, input: body })).stdout.toString().trim();
      const requests = 20_000; // 820 KB of input, 21 MB of output: far more than a pipe holds either way
      const git = startGit(["cat-file", "--batch"], { gitDir });
      const closed = new Promise<number | null>((resolve) => git.once("close", resolve));
      git.stdin.end(`${oid}\n`.repeat(requests));
      await new Promise((resolve) => setTimeout(resolve, 200));
      const chunks: Buffer[] = [];
      for await (const chunk of git.stdout) chunks.push(chunk as Buffer);
      assert.equal(await closed, 0);
      const answer = Buffer.concat([Buffer.from(`${oid} blob 1024\n`), body, Buffer.from("\n")]);
      const output = Buffer.concat(chunks);
      assert.equal(output.length, answer.length * requests);
      assert.ok(output.subarray(0, answer.length).equals(answer) && output.subarray(-answer.length).equals(answer));
    },
  );

  it("gives a git ended by a signal the code a child process's close gives (null; 1 for a run)", async () => {
    startGitFromSpawner();
    const git = startGit(["-c", "alias.hang=!kill -9 $PPID", "hang"], { gitDir });
    git.stdin.end();
    assert.equal(await new Promise((resolve) => git.once("close", resolve)), null);
    const run = await runGit(["-c", "alias.hang=!kill -9 $PPID", "hang"], { cwd: repo, allowFailure: true });
    assert.equal(run.code, 1);
  });

  for (const spawned of [false, true]) {
    it(`keeps no process alive when idle (a kept reader too), git started ${spawned ? "from the spawner" : "here"}`, async () => {
      // A process that runs git, keeps a reader idle and has nothing else to do exits, and its spawner with it.
      const script = [
        `import { BlobReader, gitSpawnerPid, runGit, startGitFromSpawner } from ${JSON.stringify(LOCALGIT)};`,
        spawned ? "startGitFromSpawner();" : "",
        `const run = await runGit(["rev-parse", "HEAD"], { gitDir: ${JSON.stringify(gitDir)} });`,
        `const reader = new BlobReader(${JSON.stringify(gitDir)}, { keptOpen: true });`,
        `const body = await reader.read(${JSON.stringify(`${commit}:a.txt`)});`,
        "process.stdout.write(`${run.stdout.toString().trim()} ${body}${gitSpawnerPid() ?? 0}`);",
      ].join("\n");
      const { stdout } = await promisify(execFile)(
        process.execPath,
        ["--disable-warning=ExperimentalWarning", "--input-type=module", "-e", script],
        {
          timeout: 20_000,
        },
      );
      const [answer, pid] = [stdout.slice(0, stdout.lastIndexOf("\n") + 1), Number(stdout.slice(stdout.lastIndexOf("\n") + 1))];
      assert.equal(answer, `${commit} one\n`);
      assert.equal(pid > 0, spawned);
      if (spawned) await assertExits(pid);
    });
  }

  it("starts git itself where there is no perl", async () => {
    // A PATH with git and no perl.
    const bin = join(work.path, "no-perl-bin");
    await mkdir(bin);
    const git = (await promisify(execFile)("sh", ["-c", "command -v git"])).stdout.trim();
    await symlink(git, join(bin, "git"));
    const script = [
      `import { gitSpawnerPid, runGit, startGitFromSpawner } from ${JSON.stringify(LOCALGIT)};`,
      "startGitFromSpawner();",
      `const run = await runGit(["rev-parse", "HEAD"], { gitDir: ${JSON.stringify(gitDir)} });`,
      "process.stdout.write(`${run.stdout.toString().trim()} ${gitSpawnerPid() ?? 'none'}`);",
    ].join("\n");
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ["--disable-warning=ExperimentalWarning", "--input-type=module", "-e", script],
      { timeout: 20_000, env: { ...process.env, PATH: bin } },
    );
    assert.equal(stdout, `${commit} none`);
  });

  it("when the spawner is gone, what ran through it fails and git is started here again", async () => {
    startGitFromSpawner();
    const parent = Number((await runGit(PARENT_OF_GIT, { cwd: repo })).stdout.toString());
    assert.notEqual(parent, process.pid);
    // A git that is still running when the spawner is killed.
    const running = runGit(["-c", "alias.wait=!sleep 2", "wait"], { cwd: repo });
    await new Promise((resolve) => setTimeout(resolve, 300));
    process.kill(parent, "SIGKILL");
    await assert.rejects(running, (error: unknown) => error instanceof LocalGitError && /spawner/.test(error.message));
    const after = await runGit(PARENT_OF_GIT, { cwd: repo });
    assert.equal(Number(after.stdout.toString()), process.pid);
    assert.equal((await runGit(["rev-parse", "HEAD"], { gitDir })).stdout.toString().trim(), commit);
  });
});
