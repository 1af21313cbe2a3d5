import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { chmod, mkdir, rename, rm, symlink, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { after, before, describe, it } from "node:test";
import { readRefusedPaths } from "../../../agent/sync/refused-paths.ts";
import { agentEnv, cli, cliOk, permissionsApply, startDaemon, waitUntil, type Daemon } from "../../helpers/agents.ts";
import { exists } from "../../helpers/folders.ts";
import { GIT_ENV, tempDir } from "../../helpers/git.ts";
import { startTestCloud, type TestCloud } from "../../helpers/local-cloud.ts";

const execFileAsync = promisify(execFile);

type Listed = Array<{ path: string; reason: string }>;
interface SyncJson {
  refused: Listed;
  notUploaded: Listed;
}

/**
 * Every path of a folder is accounted for: what the agent cannot or will not sync (an unreadable file or
 * folder, a name other machines cannot hold, a symlink leading out, a path refused from the bucket) is
 * listed with its reason at every round, in `sync --json`, the daemon's log and the folder's record, and
 * `sync` exits 3 until it is fixed; nothing aborts the folder. Ignore rules keep litter and what the
 * person's `.gitignore` names out of the bucket. Each through the real CLI and daemon against the local cloud,
 * the bucket read back with plain git over dumb HTTP.
 */
describe("every path accounted for", () => {
  let t: TestCloud;
  let work: { path: string; remove(): Promise<void> };
  let env: Record<string, string>;
  const daemons: Daemon[] = [];
  const asUser = { prefix: permissionsApply() };
  before(async () => {
    t = await startTestCloud();
    work = await tempDir("every-path");
    env = agentEnv(t.cloud.env);
  });
  after(async () => {
    for (const d of daemons) await d.stop();
    await t.stop();
    await work.remove();
  });

  const gitEnv = () => ({ ...env, ...GIT_ENV, PATH: `${resolve("bin")}:${env.PATH}` });
  const git = async (cwd: string, ...args: string[]) =>
    (await execFileAsync("git", args, { cwd, env: gitEnv(), encoding: "buffer", timeout: 60_000 })).stdout;
  let reads = 0;
  /** The bucket's main tree (path → blob id), read by plain git over dumb HTTP. */
  const bucketTree = async (repo: string): Promise<Map<string, string>> => {
    const copy = join(work.path, `bucket-read-${reads++}`);
    await git(work.path, "clone", "-q", "--bare", `${t.cloud.endpoint}/cloudbridge/repos/${repo}.git`, copy);
    const out = (await git(copy, "ls-tree", "-r", "-z", "main")).toString();
    await rm(copy, { recursive: true, force: true });
    return new Map(
      out
        .split("\0")
        .filter(Boolean)
        .map((record) => [record.slice(record.indexOf("\t") + 1), record.split(" ")[2]!.split("\t")[0]!]),
    );
  };

  it("lists an unreadable file and folder, a newline name and an outward symlink at every round; sync exits 3 until they are fixed", async () => {
    const repo = "accounted";
    const url = `s3://cloudbridge/${repo}`;
    const A = join(work.path, "a");
    await mkdir(join(A, "locked"), { recursive: true });
    await writeFile(join(A, "ok.txt"), "fine\n");
    await writeFile(join(A, "unreadable.txt"), "cannot be read\n", { mode: 0o000 });
    await chmod(join(A, "unreadable.txt"), 0o000);
    await writeFile(join(A, "locked", "inside.txt"), "behind a locked door\n");
    await chmod(join(A, "locked"), 0o000);
    await writeFile(join(A, "two\nlines.txt"), "a name with a newline\n");
    await symlink("/etc/hostname", join(A, "hostname"));
    const expected = {
      "unreadable.txt": /cannot be read by the agent \(permission denied, EACCES\)/,
      locked: /folder cannot be listed by the agent \(permission denied, EACCES\)/,
      "two\nlines.txt": /holds a control character.*rename it/,
      hostname: /points at the absolute path "\/etc\/hostname", outside the folder/,
    };
    const assertListed = (listed: Listed, where: string) => {
      assert.deepEqual(listed.map((p) => p.path).sort(), Object.keys(expected).sort(), `${where}: ${JSON.stringify(listed)}`);
      for (const [path, reason] of Object.entries(expected)) assert.match(listed.find((p) => p.path === path)!.reason, reason, where);
    };

    // One unreadable folder does not abort init: the folder is made, the rest uploaded, the rest listed.
    const init = await cli(["init", A, "--remote", url, "--listen", "poll", "--json"], env, asUser);
    assert.ok(init.code === 0 || init.code === 3, `init failed:\n${init.stderr}`);
    assertListed((JSON.parse(init.stdout) as SyncJson).notUploaded, "init");

    // Every round, not only the first: the same list and exit 3.
    for (const round of [1, 2]) {
      const sync = await cli(["sync", A, "--json"], env, asUser);
      assert.equal(sync.code, 3, `round ${round}: ${sync.stderr}`);
      assertListed((JSON.parse(sync.stdout) as SyncJson).notUploaded, `sync round ${round}`);
    }
    const human = await cli(["sync", A], env, asUser);
    assert.equal(human.code, 3);
    assert.match(human.stdout, /NOT UPLOADED "two\\nlines\.txt": the name/);
    assert.match(human.stderr, /did not upload 4 local path\(s\)/);
    // The record `status` reads.
    const record = await readRefusedPaths(A);
    assertListed(
      record.paths.filter((p) => p.kind === "not-uploaded"),
      "the folder's record",
    );
    assert.deepEqual([...(await bucketTree(repo)).keys()], ["ok.txt"], "only the readable, portable file reached the bucket");

    // The daemon says each of them at every round: at start, and again at the round a new file starts.
    const daemon = await startDaemon(A, env, ["--debounce", "50", "--settle", "100"], asUser);
    daemons.push(daemon);
    await writeFile(join(A, "later.txt"), "later\n");
    await waitUntil(async () => (await bucketTree(repo)).has("later.txt") || undefined, "later.txt to reach the bucket");
    // Its log speaks in files: the round's line comes once the round is over, a little after its push.
    await waitUntil(
      () => daemon.events.some((e) => e.event === "sync" && e.message === "sent 1 file (later.txt)") || undefined,
      "the daemon's line for the round that sent later.txt",
      10_000,
    ).catch((error: Error) => {
      error.message += `\n${daemon.events.map((e) => JSON.stringify(e)).join("\n")}`;
      throw error;
    });
    const said = (path: string) => daemon.events.filter((e) => e.event === "refused.local" && e.path === path).length;
    for (const path of Object.keys(expected)) assert.ok(said(path) >= 2, `the daemon said ${JSON.stringify(path)} ${said(path)} time(s)`);
    await daemon.stop();
    daemons.splice(daemons.indexOf(daemon), 1);

    // Fixed: readable, renamed, the link gone. Nothing listed, exit 0, everything in the bucket.
    await chmod(join(A, "unreadable.txt"), 0o644);
    await chmod(join(A, "locked"), 0o755);
    await rename(join(A, "two\nlines.txt"), join(A, "two lines.txt"));
    await rm(join(A, "hostname"));
    const fixed = await cli(["sync", A, "--json"], env, asUser);
    assert.equal(fixed.code, 0, fixed.stderr);
    assert.deepEqual((JSON.parse(fixed.stdout) as SyncJson).notUploaded, []);
    assert.deepEqual((await readRefusedPaths(A)).paths, []);
    assert.deepEqual([...(await bucketTree(repo)).keys()].sort(), [
      "later.txt",
      "locked/inside.txt",
      "ok.txt",
      "two lines.txt",
      "unreadable.txt",
    ]);
  });

  it("finishes an init that was killed before anything reached the bucket when it is run again", async () => {
    const repo = "killed-init";
    const url = `s3://cloudbridge/${repo}`;
    const A = join(work.path, "ki-a");
    await mkdir(A);
    for (let i = 0; i < 3000; i++) await writeFile(join(A, `file-${i}.txt`), `file ${i}\n`);
    const child = spawn(
      process.execPath,
      ["--disable-warning=ExperimentalWarning", resolve("agent/cli/main.ts"), "init", A, "--remote", url, "--listen", "poll"],
      {
        env,
        stdio: "ignore",
      },
    );
    const exited = new Promise((r) => child.once("exit", r));
    // Killed as its first scan starts: the folder is made, nothing is in the bucket yet.
    await waitUntil(
      async () => (await exists(join(A, ".git", "cloudbridge", "fs-clock"))) || undefined,
      "init to start scanning",
      30_000,
      2,
    );
    child.kill("SIGKILL");
    await exited;
    assert.equal((await bucketTree(repo).catch(() => new Map())).size, 0, "nothing reached the bucket");
    const again = await cli(["init", A, "--remote", url, "--listen", "poll"], env);
    assert.equal(again.code, 0, `the second init refused the half-made folder:\n${again.stderr}`);
    assert.equal((await bucketTree(repo)).size, 3000);
    const third = await cli(["init", A, "--remote", url, "--listen", "poll"], env);
    assert.equal(third.code, 2, "a finished folder is not made again");
    assert.match(third.stderr, /already a cloudbridge folder/);
  });

  it("lists a path refused from the bucket at every round, not only the one that met it", async () => {
    const repo = "from-bucket";
    const url = `s3://cloudbridge/${repo}`;
    const A = join(work.path, "fb-a");
    const W = join(work.path, "fb-writer");
    await mkdir(A);
    await writeFile(join(A, "first.txt"), "first\n");
    await cliOk(["init", A, "--remote", url, "--listen", "poll"], env);
    await git(work.path, "clone", "-q", `cloudbridge::${url}`, W);
    await symlink("/etc/hostname", join(W, "hostname"));
    await writeFile(join(W, "honest.txt"), "honest\n");
    await git(W, "add", "-A");
    await git(W, "commit", "-q", "-m", "a link that leads out");
    await git(W, "push", "-q", "origin", "main");
    for (const round of [1, 2, 3]) {
      const sync = await cli(["sync", A, "--json"], env);
      assert.equal(sync.code, 3, `round ${round}: ${sync.stderr}`);
      const { refused } = JSON.parse(sync.stdout) as SyncJson;
      assert.deepEqual(
        refused.map((r) => r.path),
        ["hostname"],
        `round ${round}`,
      );
      assert.match(refused[0]!.reason, /outside the folder/);
    }
    assert.deepEqual(
      (await readRefusedPaths(A)).paths.map((p) => [p.path, p.kind]),
      [["hostname", "refused-from-bucket"]],
    );
    // `status` lists it too, from the record, without a daemon.
    const status = await cli(["status", A, "--offline", "--json"], env);
    const listed = (JSON.parse(status.stdout) as { refused: Array<{ path: string; kind: string; reason: string }> }).refused;
    assert.deepEqual(
      listed.map((p) => [p.path, p.kind]),
      [["hostname", "refused-from-bucket"]],
      status.stdout,
    );
  });

  it("keeps what .gitignore, .cloudbridgeignore and the defaults name out of the bucket, at init and from the watcher", async () => {
    const repo = "ignored";
    const url = `s3://cloudbridge/${repo}`;
    const A = join(work.path, "ig-a");
    const files: Record<string, string> = {
      ".gitignore": "secret.env\nbuild/\n",
      ".cloudbridgeignore": "node_modules/\n*.log\n!important.log\n",
      "notes.txt": "notes\n",
      "secret.env": "TOKEN=123\n",
      "build/out.o": "object\n",
      "node_modules/left-pad/index.js": "module.exports = 1;\n",
      ".DS_Store": "litter\n",
      "docs/.DS_Store": "litter\n",
      "Thumbs.db": "litter\n",
      ".notes.txt.swp": "vim swap\n",
      "notes.txt~": "backup\n",
      ".#notes.txt": "emacs lock\n",
      "debug.log": "noise\n",
      "important.log": "kept\n",
      "docs/readme.md": "docs\n",
    };
    for (const [path, content] of Object.entries(files)) {
      await mkdir(join(A, path, ".."), { recursive: true });
      await writeFile(join(A, path), content);
    }
    await cliOk(["init", A, "--remote", url, "--listen", "poll"], env);
    const synced = [".cloudbridgeignore", ".gitignore", "docs/readme.md", "important.log", "notes.txt"];
    assert.deepEqual([...(await bucketTree(repo)).keys()].sort(), synced);

    // The watcher and the daemon's scans follow the same rules.
    const daemon = await startDaemon(A, env, ["--debounce", "50", "--settle", "100"]);
    daemons.push(daemon);
    await mkdir(join(A, "node_modules", "other"), { recursive: true });
    await writeFile(join(A, "node_modules", "other", "index.js"), "x\n");
    await writeFile(join(A, "build", "more.o"), "object\n");
    await writeFile(join(A, "docs", "draft.md.swp"), "swap\n");
    await writeFile(join(A, "secret.env"), "TOKEN=456\n");
    await writeFile(join(A, "visible.txt"), "visible\n");
    await waitUntil(async () => (await bucketTree(repo)).has("visible.txt") || undefined, "visible.txt to reach the bucket");
    // A rule added later applies to what is not synced yet; what is synced stays synced (as in git).
    await writeFile(join(A, ".cloudbridgeignore"), `${files[".cloudbridgeignore"]}*.tmp\nnotes.txt\n`);
    await writeFile(join(A, "scratch.tmp"), "tmp\n");
    await writeFile(join(A, "notes.txt"), "notes, edited\n");
    await writeFile(join(A, "after.txt"), "after\n");
    const tree = await waitUntil(async () => {
      const now = await bucketTree(repo);
      return now.has("after.txt") && now.get("notes.txt") !== undefined ? now : undefined;
    }, "after.txt to reach the bucket");
    assert.deepEqual([...tree.keys()].sort(), [...synced, "after.txt", "visible.txt"].sort());
    const notes = (await git(A, "cat-file", "-p", tree.get("notes.txt")!)).toString();
    assert.equal(notes, "notes, edited\n", "a tracked file that a later rule matches still syncs");
  });

  it("commits a file written slowly over 5 s once, when it is finished: one version arrives", async () => {
    const repo = "slow-write";
    const url = `s3://cloudbridge/${repo}`;
    const A = join(work.path, "sw-a");
    const B = join(work.path, "sw-b");
    await cliOk(["init", A, "--remote", url, "--listen", "poll", "--poll-interval", "1"], env);
    await cliOk(["clone", url, B, "--listen", "poll", "--poll-interval", "1"], env);
    const a = await startDaemon(A, env, ["--debounce", "100"]);
    const b = await startDaemon(B, env, ["--debounce", "100"]);
    daemons.push(a, b);
    // 8 MiB in 32 pieces of 256 KiB, one every ~160 ms: as a download or an export writes it.
    const piece = Buffer.alloc(256 * 1024);
    const { open } = await import("node:fs/promises");
    const file = await open(join(A, "big.bin"), "w");
    for (let i = 0; i < 32; i++) {
      piece.fill(i);
      await file.write(piece);
      await new Promise((r) => setTimeout(r, 160));
    }
    await file.close();
    await waitUntil(
      async () => {
        const log = (await git(B, "log", "--format=%H", "main", "--", "big.bin").catch(() => Buffer.from(""))).toString().trim();
        return log !== "" || undefined;
      },
      "big.bin to reach B",
      60_000,
    );
    await new Promise((r) => setTimeout(r, 1500)); // any later version would be on its way by now
    const versions = (await git(A, "log", "--format=%H", "main", "--", "big.bin")).toString().trim().split("\n");
    assert.equal(versions.length, 1, `big.bin was committed ${versions.length} times`);
    // B heard of it by polling, and says so, in files: one line for the round.
    const received = b.events.filter((e) => e.event === "sync" && String(e.message).includes("big.bin"));
    assert.equal(received.length, 1, JSON.stringify(received));
    assert.equal(received[0]!.message, "received 1 file from the other machines (big.bin)");
    assert.equal(received[0]!.why, "polled");
    const content = (await git(A, "cat-file", "-p", `main:big.bin`)).toString();
    assert.match(content, /-s8388608--/, "the one version is the whole file (its annex key says 8 MiB)");
  });
});
