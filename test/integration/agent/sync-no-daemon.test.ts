import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdir, readFile, rm, stat, utimes, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { agentEnv, cli, cliOk } from "../../helpers/agents.ts";
import { git, tempDir } from "../../helpers/git.ts";
import { startTestCloud, type TestCloud } from "../../helpers/local-cloud.ts";

/** A whole second, so that a time put back is exactly the time the file had (as `touch -r` or `cp -p` put it). */
const PAST = 1_700_000_000;

/**
 * `cloudbridge sync` with no daemon looks only at the paths git's index names (agent/sync/index-look.ts):
 * every kind of edit still travels, and after the first sync git names nothing in an unchanged folder.
 */
describe("cloudbridge sync with no daemon, guided by git's index", () => {
  let scratch: { path: string; remove(): Promise<void> };
  let t: TestCloud;
  let env: Record<string, string>;
  before(async () => {
    scratch = await tempDir("sync-no-daemon");
    t = await startTestCloud();
    env = agentEnv(t.cloud.env);
  });
  after(async () => {
    await t.stop();
    await scratch.remove();
  });

  const sync = async (dir: string) =>
    JSON.parse((await cliOk(["sync", dir, "--json"], env)).stdout) as { sent: number; written: number; deleted: number; hashed: number };
  /** What git's index names as changed in the folder, compared as the sync compares (the clean filter off). */
  const named = async (dir: string) => git(dir, "-c", "filter.cloudbridge.process=", "diff-files", "--name-only");

  it("sends a same-size edit with its time put back, a new file, a removed one, an annexed one, an edit in the racy window", async () => {
    const A = join(scratch.path, "a");
    const B = join(scratch.path, "b");
    for (let d = 0; d < 3; d += 1) {
      await mkdir(join(A, `dir-${d}`), { recursive: true });
      for (let f = 0; f < 100; f += 1) {
        const file = join(A, `dir-${d}`, `file-${f}.txt`);
        await writeFile(file, `${d}-${f}-${"x".repeat(40)}\n`);
        await utimes(file, PAST, PAST);
      }
    }
    await cliOk(["init", A, "--remote", "s3://cloudbridge/team/no-daemon", "--json"], env);
    await git(A, "config", "cloudbridge.largefiles.minsize", "1k");
    await cliOk(["clone", "s3://cloudbridge/team/no-daemon", B, "--json"], env);
    // The first sync finds git's index without stat fields (an import writes none): it looks at every
    // file, then has git record them, so the next one is guided by the index.
    assert.equal((await sync(A)).sent, 0);

    // The same size, the same inode, the modification time put back: only the ctime tells.
    const same = join(A, "dir-0", "file-1.txt");
    const before = await stat(same);
    await writeFile(same, `0-1-${"y".repeat(40)}\n`);
    await utimes(same, PAST, PAST);
    const restored = await stat(same);
    assert.deepEqual([restored.size, restored.mtimeMs, restored.ino], [before.size, before.mtimeMs, before.ino]);
    await writeFile(join(A, "dir-1", "new.txt"), "new\n");
    await mkdir(join(A, "new-dir", "deeper"), { recursive: true });
    await writeFile(join(A, "new-dir", "deeper", "inside.txt"), "inside\n");
    await rm(join(A, "dir-2", "file-3.txt"));
    const large = randomBytes(4096);
    await writeFile(join(A, "big.bin"), large);
    const first = await sync(A);
    assert.equal(first.sent, 5);

    // Written again within the same second as the sync that committed it, with the same size and time.
    const racy = join(A, "dir-1", "file-7.txt");
    await writeFile(racy, `1-7-${"a".repeat(40)}\n`);
    const racyTime = await stat(racy);
    assert.equal((await sync(A)).sent, 1);
    await writeFile(racy, `1-7-${"b".repeat(40)}\n`);
    await utimes(racy, racyTime.atime, racyTime.mtime);
    assert.equal((await sync(A)).sent, 1, "the edit in the racy window is sent");

    // A file a person told git to stop looking at (git keeps the mark across the agent's rebuilds of its index).
    await git(A, "update-index", "--assume-unchanged", "dir-0/file-2.txt");
    await git(A, "update-index", "--skip-worktree", "dir-0/file-4.txt");
    await writeFile(join(A, "dir-0", "file-2.txt"), "hidden from git\n");
    await writeFile(join(A, "dir-0", "file-4.txt"), "skipped by git\n");
    assert.equal((await sync(A)).sent, 2);

    // The annexed file changed in place, the same size.
    const changedLarge = randomBytes(4096);
    await writeFile(join(A, "big.bin"), changedLarge);
    assert.equal((await sync(A)).sent, 1);
    assert.equal((await sync(A)).sent, 0, "an unchanged folder sends nothing");
    // Files written within the racy window (2 s) of a sync are left without stat fields in git's index
    // (looked at again next time).
    await new Promise((resolve) => setTimeout(resolve, 2100));
    await sync(A);
    // Past it, a sync has git record them all but the annexed file: its entry is its pointer, recorded
    // only through the clean filter, which would read the whole content again at every such sync.
    assert.equal(
      await named(A),
      "big.bin",
      "after a sync git's index holds every small file's stat fields: git names only the annexed file",
    );
    const idle = await sync(A);
    assert.deepEqual([idle.sent, idle.hashed], [0, 0], "the annexed file git names is taken from the stat cache, not read again");

    await sync(B);
    assert.equal(await readFile(join(B, "dir-0", "file-1.txt"), "utf8"), `0-1-${"y".repeat(40)}\n`);
    assert.equal(await readFile(join(B, "dir-1", "new.txt"), "utf8"), "new\n");
    assert.equal(await readFile(join(B, "new-dir", "deeper", "inside.txt"), "utf8"), "inside\n");
    await assert.rejects(stat(join(B, "dir-2", "file-3.txt")), { code: "ENOENT" });
    assert.equal(await readFile(join(B, "dir-1", "file-7.txt"), "utf8"), `1-7-${"b".repeat(40)}\n`);
    assert.deepEqual(await readFile(join(B, "big.bin")), changedLarge);
    assert.equal(await readFile(join(B, "dir-0", "file-2.txt"), "utf8"), "hidden from git\n");
    assert.equal(await readFile(join(B, "dir-0", "file-4.txt"), "utf8"), "skipped by git\n");
    assert.match(await git(A, "cat-file", "-p", "HEAD:big.bin"), /annex\/objects\/SHA256E/, "big.bin is annexed");
  });

  it("a push that landed whose note on this machine then fails is said as landed, with a warning: exit 0, the tracking ref moved, nothing pushed again", async () => {
    const A = join(scratch.path, "note-fails");
    await cliOk(["init", A, "--remote", "s3://cloudbridge/team/note-fails", "--json"], env);
    await writeFile(join(A, "one.txt"), "one\n");
    await cliOk(["sync", A], env);
    // The catalog of the bucket's packs where a folder should be: noting the next pack in it fails.
    const catalog = join(A, ".git", "cloudbridge", "bucket-packs");
    await rm(catalog, { recursive: true, force: true });
    await writeFile(catalog, "not a folder\n");
    await writeFile(join(A, "two.txt"), "two\n");
    const synced = await cli(["sync", A, "--json"], env);
    assert.equal(synced.code, 0, `the push landed: not a failed sync\n${synced.stderr}`);
    assert.match(
      synced.stderr,
      /"event":"push\.landed-with-warning".*the push landed in the bucket; noting it on this machine failed .*bucket-packs/,
    );
    const head = await git(A, "rev-parse", "HEAD");
    assert.equal(await git(A, "rev-parse", "refs/remotes/cloud/main"), head, "this machine knows the bucket has it");
    assert.match((await cliOk(["status", A], env)).stdout, /every commit is in the cloud/);
    const again = await sync(A);
    assert.equal(again.sent, 0, "nothing to send again");
    assert.equal(await git(A, "rev-parse", "HEAD"), head);
  });

  it("starts git's look before it reads the folder's settings, and takes it: an edit is sent, an unchanged folder costs no hash and reads its settings once, the git-annex branch not at all", async () => {
    const C = join(scratch.path, "c");
    await mkdir(join(C, "dir"), { recursive: true });
    for (let f = 0; f < 20; f += 1) await writeFile(join(C, "dir", `file-${f}.txt`), `${f}\n`);
    await cliOk(["init", C, "--remote", "s3://cloudbridge/team/look-first", "--json"], env);
    await sync(C); // git records the stat fields the import left out
    await new Promise((resolve) => setTimeout(resolve, 2100)); // past the racy window of that sync
    await sync(C);
    // Every git process the sync starts, in order (git's trace2 events, one JSON object a line).
    const tracedRun = async (args: string[]) => {
      const trace = join(scratch.path, `trace-${Date.now()}.json`);
      const { stdout } = await cliOk(args, { ...env, GIT_TRACE2_EVENT: trace });
      const commands = (await readFile(trace, "utf8"))
        .split("\n")
        .filter((line) => line.includes('"event":"start"'))
        .map((line) => (JSON.parse(line) as { argv: string[] }).argv.slice(1).join(" "));
      return { stdout, commands };
    };
    const traced = async () => {
      const { stdout, commands } = await tracedRun(["sync", C, "--json"]);
      return { report: JSON.parse(stdout) as { sent: number; hashed: number }, commands };
    };
    const idle = await traced();
    // The settings are read once (the clean filter's among them), and the git-annex branch, which did not move since
    // this machine's wish was last seen there, not at all.
    assert.deepEqual(
      idle.commands.filter((command) => /^(config|cat-file)\b/.test(command)),
      ["config --null --list --show-origin"],
      idle.commands.join("\n"),
    );
    const first = (prefix: string) => idle.commands.findIndex((command) => command.startsWith(prefix));
    assert.ok(first("diff-files") >= 0 && first("config --null --list") >= 0, idle.commands.join("\n"));
    assert.ok(first("diff-files") < first("config --null --list"), `git looks before the settings are read:\n${idle.commands.join("\n")}`);
    assert.equal(idle.commands.filter((command) => command.startsWith("diff-files")).length, 1, "the look is taken, not made again");
    assert.deepEqual([idle.report.sent, idle.report.hashed], [0, 0]);
    await writeFile(join(C, "dir", "file-3.txt"), "changed\n");
    const edited = await traced();
    assert.equal(edited.report.sent, 1);
    assert.equal(edited.commands.filter((command) => command.startsWith("diff-files")).length, 1);
    // Commands that open the folder for one command but scan nothing or only their own paths start no look at
    // the whole folder: their process would wait for it, unused (at 50,000 files, git's look is `git status`).
    for (const args of [
      ["versions", join(C, "dir", "file-3.txt")],
      ["status", C, "--offline"],
      ["conflicts", C],
    ]) {
      const { commands } = await tracedRun(args);
      assert.deepEqual(
        commands.filter((command) => /^(diff-files|ls-files --others)\b/.test(command)),
        [],
        `${args[0]}: ${commands.join("\n")}`,
      );
    }
  });
});
