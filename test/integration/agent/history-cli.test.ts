import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { execFile } from "node:child_process";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { after, before, describe, it } from "node:test";
import { agentEnv, cli, cliOk, startDaemon, waitUntil } from "../../helpers/agents.ts";
import { exists } from "../../helpers/folders.ts";
import { tempDir } from "../../helpers/git.ts";
import { startTestCloud, type TestCloud } from "../../helpers/local-cloud.ts";

/**
 * The commands people expect from a sync tool, on two folders through the local cloud: versions of a
 * file (also a deleted one), restore (a version, a time, a deleted file, a whole folder, annexed content
 * that is not here), conflicts and their resolution, pause and resume, the bandwidth limit setting.
 */
describe("conflicts, versions, restore, pause, resume, limit", () => {
  let cloud: TestCloud;
  let scratch: { path: string; remove(): Promise<void> };
  let env: Record<string, string>;
  let A: string;
  let B: string;
  const json = async (args: string[]) => JSON.parse((await cliOk([...args, "--json"], env)).stdout) as unknown;
  const text = (path: string) => readFile(path, "utf8");
  const sync = (dir: string) => cliOk(["sync", dir], env);

  before(async () => {
    cloud = await startTestCloud();
    scratch = await tempDir("history-cli");
    env = agentEnv(cloud.cloud.env);
    A = join(scratch.path, "a");
    B = join(scratch.path, "b");
    await mkdir(A);
    await writeFile(join(A, "note.txt"), "first\n");
    await writeFile(join(A, "gone.txt"), "to be deleted\n");
    await cliOk(["init", A, "--remote", "s3://cloudbridge/hist"], env);
    await cliOk(["clone", "s3://cloudbridge/hist", B, "--wanted", "nothing"], env);
  });
  after(async () => {
    await cloud?.stop();
    await scratch?.remove();
  });

  it("versions lists each change of a file with who and when, newest first", async () => {
    await writeFile(join(A, "note.txt"), "second\n");
    await sync(A);
    await sync(B);
    const { versions } = (await json(["versions", join(B, "note.txt")])) as {
      versions: Array<{ version: number; deleted: boolean; author: string; date: string }>;
    };
    assert.equal(versions.length, 2);
    assert.deepEqual(
      versions.map((v) => [v.version, v.deleted]),
      [
        [1, false],
        [2, false],
      ],
    );
    assert.ok(versions.every((v) => v.author.length > 0 && !Number.isNaN(Date.parse(v.date))));
    const none = await cli(["versions", join(B, "never-there.txt")], env);
    assert.equal(none.code, 1, none.stderr);
  });

  it("restore --version N brings an old version back as a new change, and the other machine gets it", async () => {
    const out = (await json(["restore", join(B, "note.txt"), "--version", "2"])) as { restored: Array<{ path: string }>; synced: string };
    assert.deepEqual(
      out.restored.map((r) => r.path),
      ["note.txt"],
    );
    assert.equal(out.synced, "synced");
    assert.equal(await text(join(B, "note.txt")), "first\n");
    await sync(A);
    assert.equal(await text(join(A, "note.txt")), "first\n");
    const { versions } = (await json(["versions", join(A, "note.txt")])) as { versions: unknown[] };
    assert.equal(versions.length, 3, "restoring added a version; none was rewritten");
  });

  it("restore --at TIME takes the file as it was then", async () => {
    const { versions } = (await json(["versions", join(A, "note.txt")])) as { versions: Array<{ date: string }> };
    const secondAt = versions[1]!.date; // the "second" edit
    await new Promise((resolve) => setTimeout(resolve, 1100)); // git dates have one-second resolution
    await writeFile(join(A, "note.txt"), "third\n");
    await sync(A);
    await cliOk(["restore", join(A, "note.txt"), "--at", secondAt], env);
    assert.equal(await text(join(A, "note.txt")), "second\n");
    const early = await cli(["restore", join(A, "note.txt"), "--at", "2001-01-01"], env);
    assert.equal(early.code, 1, early.stderr);
    assert.match(early.stderr, /no history at or before/);
    // A time git cannot read is refused, the file left as it is: `git log --before` takes unknown words for "now".
    for (const typo of ["garbage", "yesteday"]) {
      const refused = await cli(["restore", join(A, "note.txt"), "--at", typo], env);
      assert.equal(refused.code, 2, refused.stderr);
      assert.match(refused.stderr, /is not a time git reads/);
    }
    assert.equal(await text(join(A, "note.txt")), "second\n");
  });

  it("a file deleted on A is restored on B, and A gets it back", async () => {
    await rm(join(A, "gone.txt"));
    await sync(A);
    await sync(B);
    assert.equal(await exists(join(B, "gone.txt")), false);
    const { versions } = (await json(["versions", join(B, "gone.txt")])) as { versions: Array<{ deleted: boolean }> };
    assert.equal(versions[0]!.deleted, true, "the newest version of a deleted file is its deletion");
    await cliOk(["restore", join(B, "gone.txt")], env);
    assert.equal(await text(join(B, "gone.txt")), "to be deleted\n");
    await sync(A);
    assert.equal(await text(join(A, "gone.txt")), "to be deleted\n");
  });

  it("a whole deleted folder is restored", async () => {
    await mkdir(join(A, "dir", "sub"), { recursive: true });
    await writeFile(join(A, "dir", "x.txt"), "x\n");
    await writeFile(join(A, "dir", "sub", "y.txt"), "y\n");
    await sync(A);
    await rm(join(A, "dir"), { recursive: true });
    await sync(A);
    await sync(B);
    assert.equal(await exists(join(B, "dir")), false);
    const out = (await json(["restore", join(B, "dir")])) as { restored: Array<{ path: string }> };
    assert.deepEqual(out.restored.map((r) => r.path).sort(), ["dir/sub/y.txt", "dir/x.txt"]);
    await sync(A);
    assert.equal(await text(join(A, "dir", "sub", "y.txt")), "y\n");
    const version = await cli(["restore", join(B, "dir"), "--version", "1"], env);
    assert.equal(version.code, 1);
    assert.match(version.stderr, /versions are per file/);
    // A misspelt name is no folder: the person is told the name has no history, not to use --at.
    const misspelt = await cli(["restore", join(B, "dri"), "--version", "1"], env);
    assert.equal(misspelt.code, 1);
    assert.match(misspelt.stderr, /dri has no history in this folder/);
    assert.doesNotMatch(misspelt.stderr, /is a folder/);
  });

  it("an old version of an annexed file is restored on a machine that does not have its content", async () => {
    const big1 = randomBytes(1_200_000);
    const big2 = randomBytes(1_300_000);
    await writeFile(join(A, "big.bin"), big1);
    await sync(A);
    await writeFile(join(A, "big.bin"), big2);
    await sync(A);
    await sync(B); // wanted=nothing: B holds pointer files only
    assert.ok((await readFile(join(B, "big.bin"))).length < 1024, "B has the pointer, not the content");
    await cliOk(["restore", join(B, "big.bin"), "--version", "2"], env);
    assert.ok((await readFile(join(B, "big.bin"))).equals(big1), "the old content was fetched from the cloud");
    await sync(A);
    assert.ok((await readFile(join(A, "big.bin"))).equals(big1));
  });

  it("conflicts lists each pair of versions; --keep keeps one and both folders converge", async () => {
    await writeFile(join(A, "c.txt"), "shared\n");
    await sync(A);
    await sync(B);
    await writeFile(join(A, "c.txt"), "from a\n");
    await writeFile(join(B, "c.txt"), "from b\n");
    await sync(A);
    await sync(B);
    const conflicts = (await json(["conflicts", B])) as Array<{
      path: string;
      variant: string;
      sides: Array<{ path: string; author?: string }>;
    }>;
    assert.equal(conflicts.length, 1);
    const [conflict] = conflicts;
    assert.equal(conflict!.path, "c.txt");
    assert.match(conflict!.variant, /^c\.variant-[0-9a-f]{4}\.txt$/);
    assert.equal(await text(join(B, conflict!.variant)), "from b\n");
    assert.ok(conflict!.sides.every((s) => s.author));
    const human = await cliOk(["conflicts", B], env);
    assert.match(human.stdout, /c\.txt: two versions/);

    await cliOk(["conflicts", B, "--keep", join(B, conflict!.variant)], env);
    assert.equal(await text(join(B, "c.txt")), "from b\n");
    assert.equal(await exists(join(B, conflict!.variant)), false);
    await sync(A);
    assert.equal(await text(join(A, "c.txt")), "from b\n");
    assert.equal(await exists(join(A, conflict!.variant)), false);
    assert.deepEqual(await json(["conflicts", A]), []);
    const notOne = await cli(["conflicts", A, "--keep", join(A, "note.txt")], env);
    assert.equal(notOne.code, 1);
    assert.match(notOne.stderr, /not part of a conflict/);
  });

  it("--keep-both gives the variant a plain name", async () => {
    await writeFile(join(A, "d.txt"), "from a\n");
    await writeFile(join(B, "d.txt"), "from b\n");
    await sync(A);
    await sync(B);
    const [conflict] = (await json(["conflicts", B])) as Array<{ path: string; variant: string }>;
    assert.equal(conflict?.path, "d.txt");
    await cliOk(["conflicts", B, "--keep-both", join(B, "d.txt")], env);
    assert.equal(await text(join(B, "d.txt")), "from a\n");
    assert.equal(await text(join(B, "d (2).txt")), "from b\n");
    await sync(A);
    assert.equal(await text(join(A, "d (2).txt")), "from b\n");
    assert.deepEqual(await json(["conflicts", A]), []);
  });

  it("the commands versions and conflicts print work pasted into the shell they ran in: names with spaces and quotes, in a subfolder", async () => {
    // As a person runs them: `cloudbridge` on the PATH, in a subfolder, a name of everyday characters.
    const sub = "Sub folder";
    const name = "Bob's notes.txt";
    await mkdir(join(A, sub), { recursive: true });
    await writeFile(join(A, sub, name), "one\n");
    await sync(A);
    await writeFile(join(A, sub, name), "two\n");
    await sync(A);
    await sync(B);
    const shellEnv = { ...env, PATH: `${resolve("bin")}:${env.PATH}`, CLOUDBRIDGE_CLI_FROM_SOURCE: "1" };
    const paste = (cwd: string, command: string) =>
      promisify(execFile)("sh", ["-c", command], { cwd, env: shellEnv }).catch((error: Error & { stderr?: string }) => {
        assert.fail(`pasted \`${command}\` in ${cwd}, and it failed:\n${error.stderr ?? error.message}`);
      });

    const listed = await cliOk(["versions", name], env, { cwd: join(A, sub) });
    const restore = /restore one: (cloudbridge restore .*)\)$/m.exec(listed.stdout)?.[1];
    assert.ok(restore, listed.stdout);
    await paste(join(A, sub), restore.replace(/ N$/, " 2"));
    assert.equal(await text(join(A, sub, name)), "one\n");

    await writeFile(join(A, sub, name), "from a\n");
    await writeFile(join(B, sub, name), "from b\n");
    await sync(A);
    await sync(B);
    const shown = await cliOk(["conflicts"], env, { cwd: join(B, sub) });
    const resolve_ = /resolve: (cloudbridge conflicts --keep .*?) \| --keep /.exec(shown.stdout)?.[1];
    assert.ok(resolve_, shown.stdout);
    await paste(join(B, sub), resolve_);
    assert.deepEqual(await json(["conflicts", B]), []);
    await sync(A);
    assert.equal(await text(join(A, sub, name)), await text(join(B, sub, name)));
  });

  it("pause stops sync (exit 2) until resume, and status says so", async () => {
    await cliOk(["pause", B], env);
    const status = (await json(["status", B, "--offline"])) as { paused: { since: string } | null; state: string };
    assert.ok(status.paused);
    assert.equal(status.state, "paused");
    await writeFile(join(A, "while-paused.txt"), "later\n");
    await sync(A);
    const refused = await cli(["sync", B], env);
    assert.equal(refused.code, 2, refused.stderr);
    assert.match(refused.stderr, /is paused/);
    assert.equal(await exists(join(B, "while-paused.txt")), false);
    await cliOk(["resume", B], env);
    await sync(B);
    assert.equal(await text(join(B, "while-paused.txt")), "later\n");
    assert.equal(((await json(["status", B, "--offline"])) as { paused: unknown }).paused, null);
  });

  it("a paused folder's daemon pulls nothing, also after a restart, until resume", async () => {
    await cliOk(["pause", B], env);
    const flags = ["--listen", "poll", "--poll-interval", "1", "--debounce", "100"];
    let daemon = await startDaemon(B, env, flags);
    try {
      await writeFile(join(A, "held.txt"), "held\n");
      await sync(A);
      await new Promise((resolve) => setTimeout(resolve, 2500));
      assert.equal(await exists(join(B, "held.txt")), false, "nothing arrives while paused");
      await writeFile(join(B, "local-while-paused.txt"), "here\n");
      assert.equal(await daemon.stop(), 0);
      daemon = await startDaemon(B, env, flags);
      await new Promise((resolve) => setTimeout(resolve, 2500));
      assert.equal(await exists(join(B, "held.txt")), false, "the pause outlives a restart");
      await cliOk(["resume", B], env);
      await waitUntil(async () => (await exists(join(B, "held.txt"))) || undefined, "the change arrives after resume");
      await daemon.waitForEvent("daemon.resumed");
      await waitUntil(async () => {
        await sync(A);
        return (await text(join(A, "local-while-paused.txt")).catch(() => undefined)) === "here\n";
      }, "what was written while paused is synced");
    } finally {
      await daemon.stop();
    }
  });

  it("limit sets the bandwidth limits as settings, and refuses a rate it cannot read", async () => {
    assert.deepEqual(await json(["limit", A, "--up", "5MB", "--down", "512KiB"]), { folder: A, upload: 5_000_000, download: 524_288 });
    assert.equal((await cliOk(["limit", A], env)).stdout.trim(), "uploads: 4.8 MiB/s, downloads: 512.0 KiB/s");
    const status = (await json(["status", A, "--offline"])) as { limits: { upload: number; download: number } };
    assert.deepEqual(status.limits, { upload: 5_000_000, download: 524_288 });
    const wrong = await cli(["limit", A, "--up", "fast"], env);
    assert.equal(wrong.code, 2);
    assert.match(wrong.stderr, /not a rate/);
    assert.deepEqual(await json(["limit", A, "--up", "none", "--down", "none"]), { folder: A, upload: 0, download: 0 });
  });
});
