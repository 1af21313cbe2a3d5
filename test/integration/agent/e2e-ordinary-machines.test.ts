import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdir, readdir, readFile, utimes, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { isDeepStrictEqual } from "node:util";
import { describe, it } from "node:test";
import { cli, cliOk, permissionsApply, waitUntil, type Daemon } from "../../helpers/agents.ts";
import { exists, snapshot } from "../../helpers/folders.ts";
import { useAgentCloud } from "../../helpers/test-bed.ts";

/**
 * What ordinary machines do to a running agent: a person runs `cloudbridge sync` by hand beside the daemon,
 * mounts a subfolder read-only, has a clock that is days off, names files the way the agent names its
 * temporary files, and runs the agent as an ordinary user, whom mode bits stop. Each through the real CLI
 * and daemon against the local cloud.
 */
describe("a daemon on an ordinary machine", () => {
  const bed = useAgentCloud("e2e-ordinary");

  /** Waits until `dir` holds exactly `expected`; otherwise fails showing the difference and the daemon's log. */
  const converges = async (dir: string, expected: Record<string, string>, daemon: Daemon, poke?: () => Promise<unknown>) => {
    const deadline = Date.now() + 30_000;
    for (;;) {
      await poke?.();
      const now = await snapshot(dir);
      if (isDeepStrictEqual(now, expected)) return;
      if (Date.now() > deadline) {
        assert.deepEqual(now, expected, `${dir} did not converge; daemon log:\n${daemon.events.map((e) => JSON.stringify(e)).join("\n")}`);
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, 300));
    }
  };

  const folders = async (repo: string) => {
    const url = `s3://cloudbridge/${repo}`;
    const A = bed.path(`${repo}/a`);
    const B = bed.path(`${repo}/b`);
    await cliOk(["init", A, "--remote", url, "--listen", "poll", "--poll-interval", "1"], bed.env);
    await cliOk(["clone", url, B, "--listen", "poll", "--poll-interval", "1"], bed.env);
    return { url, A, B };
  };

  it("tolerates `cloudbridge sync` run by hand while it runs: no wedge, nothing lost", async () => {
    const { A, B } = await folders("hand-sync");
    // A debounce long enough that the hand-run sync commits first, and the daemon finds `main` moved under it.
    const daemon = await bed.daemon(A, ["--debounce", "1500"]);
    for (let i = 0; i < 4; i++) {
      // A file the hand-run sync commits, and one the daemon's watcher hears of at the same moment.
      await writeFile(join(A, `hand-${i}.txt`), `hand ${i}\n`);
      const hand = cli(["sync", A], bed.env);
      await writeFile(join(A, `beside-${i}.txt`), `beside ${i}\n`);
      await writeFile(join(B, `from-b-${i}.txt`), `from b ${i}\n`);
      await cliOk(["sync", B], bed.env);
      const result = await hand;
      if (process.env.CLOUDBRIDGE_TEST_VERBOSE) process.stderr.write(`hand sync ${i}: ${result.code}\n`);
      assert.ok(result.code === 0, `the hand-run sync failed beside the daemon:\n${result.stderr}`);
    }
    // The daemon still syncs on its own afterwards.
    await writeFile(join(A, "after.txt"), "after\n");
    const expected: Record<string, string> = { "after.txt": "after\n" };
    for (let i = 0; i < 4; i++) {
      expected[`hand-${i}.txt`] = `hand ${i}\n`;
      expected[`beside-${i}.txt`] = `beside ${i}\n`;
      expected[`from-b-${i}.txt`] = `from b ${i}\n`;
    }
    await converges(B, expected, daemon, () => cliOk(["sync", B], bed.env));
    await converges(A, expected, daemon);
    const status = JSON.parse((await cliOk(["status", A, "--json"], bed.env)).stdout) as {
      daemon?: { lastError: string | null; lastRound: { ok: boolean } | null };
    };
    assert.equal(status.daemon?.lastError, null, "the daemon's last round succeeded");
    assert.equal(status.daemon?.lastRound?.ok, true);
  });

  it("skips and reports a read-only subfolder, syncs everything else both ways, and writes it once it is writable", async () => {
    const { A, B } = await folders("read-only");
    await mkdir(join(A, "ro"));
    await writeFile(join(A, "ro", "existing.txt"), "old\n");
    await cliOk(["sync", A], bed.env);
    await cliOk(["sync", B], bed.env);
    assert.equal(await readFile(join(B, "ro", "existing.txt"), "utf8"), "old\n");
    // B's "ro" becomes read-only (a bind mount: root ignores mode bits, so permissions would prove nothing).
    const ro = join(B, "ro");
    const readOnly = bed.readOnly(ro);
    await assert.rejects(writeFile(join(ro, "probe"), "x"), { code: "EROFS" });

    const daemon = await bed.daemon(B, ["--debounce", "50"]);
    await writeFile(join(A, "ro", "existing.txt"), "new from a\n");
    await writeFile(join(A, "ro", "added.txt"), "added in a\n");
    await mkdir(join(A, "ro", "sub"));
    await writeFile(join(A, "ro", "sub", "deep.txt"), "deep\n");
    await writeFile(join(A, "elsewhere.txt"), "elsewhere\n");
    await cliOk(["sync", A], bed.env);
    // Everything else arrives; the read-only paths are reported, by name.
    await waitUntil(() => exists(join(B, "elsewhere.txt")), "elsewhere.txt in B", 30_000);
    const reported = await waitUntil(() => {
      const paths = daemon.events.filter((e) => e.event === "unwritable").map((e) => e.path as string);
      return paths.length >= 3 ? paths.sort() : undefined;
    }, "the unwritable paths reported");
    assert.deepEqual(reported, ["ro/added.txt", "ro/existing.txt", "ro/sub/deep.txt"]);
    assert.match(String(daemon.events.find((e) => e.event === "unwritable")!.message), /read-only/);
    // The other direction still works, and the old file in B is not taken for a local change.
    await writeFile(join(B, "from-b.txt"), "from b\n");
    await waitUntil(
      async () => {
        await cliOk(["sync", A], bed.env);
        return exists(join(A, "from-b.txt"));
      },
      "B's file in A",
      30_000,
    );
    assert.equal(await readFile(join(A, "ro", "existing.txt"), "utf8"), "new from a\n", "A's edit is not reverted by B");
    assert.equal(await readFile(join(B, "ro", "existing.txt"), "utf8"), "old\n");
    const hand = await cli(["sync", B], bed.env);
    assert.equal(hand.code, 3, `a hand-run sync says it could not write everything:\n${hand.stdout}${hand.stderr}`);
    assert.match(hand.stdout, /NOT WRITTEN "ro\/added.txt"/);

    // Writable again: the next round brings the skipped paths.
    readOnly.writable();
    await writeFile(join(A, "nudge.txt"), "nudge\n");
    await cliOk(["sync", A], bed.env);
    await converges(
      B,
      {
        "elsewhere.txt": "elsewhere\n",
        "from-b.txt": "from b\n",
        "nudge.txt": "nudge\n",
        "ro/added.txt": "added in a\n",
        "ro/existing.txt": "new from a\n",
        "ro/sub/deep.txt": "deep\n",
      },
      daemon,
    );
    assert.equal(daemon.events.filter((e) => e.event === "sync.failed").length, 0, "no round failed");
  });

  it("does not re-read unchanged files whose times are days ahead of its clock (a clock two days slow)", async () => {
    const { A } = await folders("clock-skew");
    const twoDaysAhead = new Date(Date.now() + 2 * 24 * 3600 * 1000);
    for (let i = 0; i < 40; i++) {
      await writeFile(join(A, `file-${i}.txt`), `content ${i}\n`);
      await utimes(join(A, `file-${i}.txt`), twoDaysAhead, twoDaysAhead);
    }
    const sync = async () => JSON.parse((await cliOk(["sync", A, "--json"], bed.env)).stdout) as { hashed: number; committed?: string };
    const first = await sync();
    assert.ok(first.committed, "the files were committed");
    const again = await sync();
    assert.equal(again.hashed, 0, "an unchanged folder costs no file read, whatever its files' times");
    // And an edit is still seen, though its time is now two days before the recorded one.
    await writeFile(join(A, "file-7.txt"), "edited\n");
    const edited = await sync();
    assert.ok(edited.committed, "the edit was committed");
    assert.equal(edited.hashed, 1);
  });

  it("syncs a person's files that look like the agent's temporaries and never deletes them; lists a `.git` in a subfolder as refused", async () => {
    const { A, B } = await folders("temp-names");
    const hourAgo = new Date(Date.now() - 3600 * 1000);
    await writeFile(join(A, ".cloudbridge-tmp-my-notes.txt"), "my notes\n");
    await utimes(join(A, ".cloudbridge-tmp-my-notes.txt"), hourAgo, hourAgo);
    await writeFile(join(A, ".draft.cloudbridge-7.tmp"), "draft\n");
    await mkdir(join(A, "sub"));
    await writeFile(join(A, "sub", ".git"), "not a repository\n");
    await writeFile(join(A, "sub", "kept.txt"), "kept\n");
    const result = await cli(["sync", A], bed.env);
    assert.equal(result.code, 3, `the refused .git is an error a person sees:\n${result.stdout}${result.stderr}`);
    assert.match(result.stdout, /NOT UPLOADED "sub\/\.git": .*git/);
    assert.ok(await exists(join(A, ".cloudbridge-tmp-my-notes.txt")), "the person's file is still there");
    assert.ok(await exists(join(A, "sub", ".git")), "the refused file is left alone");
    await cliOk(["sync", B], bed.env);
    assert.deepEqual(await readdir(B).then((names) => names.sort()), [
      ".cloudbridge-tmp-my-notes.txt",
      ".draft.cloudbridge-7.tmp",
      ".git",
      "sub",
    ]);
    assert.deepEqual(await readdir(join(B, "sub")), ["kept.txt"]);

    // What a cloudbridge process killed mid-write leaves: the temporary it journaled, and its journal.
    const leftover = ".cloudbridge-tmp-00112233445566778899aabb-big.bin";
    await mkdir(join(A, ".git", "cloudbridge", "temporaries"), { recursive: true });
    await writeFile(join(A, ".git", "cloudbridge", "temporaries", "2147483646-0123456789ab"), `${leftover}\0`);
    await writeFile(join(A, leftover), "half written");

    // The daemon: the leftover goes at start, a person's file is synced and still there after it.
    const daemon = await bed.daemon(A, ["--debounce", "50"]);
    assert.equal(await exists(join(A, leftover)), false, "the killed process's temporary was removed");
    await waitUntil(() => daemon.events.find((e) => e.event === "refused.local" && e.path === "sub/.git"), "the daemon lists sub/.git");
    await writeFile(join(A, ".cloudbridge-tmp-0123456789ab-later.txt"), "later\n");
    await waitUntil(
      async () => {
        await cliOk(["sync", B], bed.env);
        return exists(join(B, ".cloudbridge-tmp-0123456789ab-later.txt"));
      },
      "the later file in B",
      30_000,
    );
    assert.ok(await exists(join(A, ".cloudbridge-tmp-my-notes.txt")));
    assert.equal(await exists(join(B, leftover)), false, "the leftover was never synced");
  });

  it("syncs as an ordinary user, whom git's read-only files stop: a machine fetches its own pack back after another pushed", async () => {
    // The tests run as root, whom mode bits never stop; a person's agent is stopped by git's read-only
    // pack indexes (mode 0444) the moment it writes over a copy of one.
    const asUser = { prefix: permissionsApply() };
    const url = "s3://cloudbridge/ordinary-user";
    const A = bed.path("ordinary-user/a");
    const B = bed.path("ordinary-user/b");
    await mkdir(A, { recursive: true });
    await writeFile(join(A, "first.txt"), "first\n");
    const ran = async (args: string[]) => {
      const result = await cli(args, bed.env, asUser);
      assert.equal(result.code, 0, `cloudbridge ${args.join(" ")} failed as an ordinary user:\n${result.stderr}`);
    };
    await ran(["init", A, "--remote", url]);
    await writeFile(join(A, "second.txt"), "second\n");
    await ran(["sync", A]);
    await ran(["clone", url, B]);
    await writeFile(join(B, "from-b.txt"), "from b\n");
    await ran(["sync", B]);
    await ran(["sync", A]);
    assert.equal(await readFile(join(A, "from-b.txt"), "utf8"), "from b\n");
    await writeFile(join(A, "from-a.txt"), "from a\n");
    await ran(["sync", A]);
    await ran(["sync", B]);
    assert.equal(await readFile(join(B, "from-a.txt"), "utf8"), "from a\n");
  });
  it("a full disk: clone says so and what to do, and carries on once there is room", async () => {
    // A folder on a small file system of its own (tmpfs needs root, as the tests run): a 2 MiB annexed
    // file does not fit beside its copy in the annex store.
    const url = "s3://cloudbridge/full-disk";
    const A = bed.path("full-disk/a");
    await mkdir(A, { recursive: true });
    await writeFile(join(A, "small.txt"), "small\n");
    await writeFile(join(A, "big.bin"), randomBytes(2 * 1024 * 1024));
    await cliOk(["init", A, "--remote", url], bed.env);
    const disk = bed.path("full-disk/disk");
    await mkdir(disk);
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=3m", "tmpfs", disk]);
    try {
      const B = join(disk, "b");
      const full = await cli(["clone", url, B], bed.env);
      assert.equal(full.code, 1, full.stderr);
      assert.match(
        full.stderr,
        /no space left on the disk that holds .*full-disk\/disk\/b.*: free some space there, then `cloudbridge sync` in the folder carries on/i,
      );
      assert.doesNotMatch(
        full.stderr,
        /ENOSPC: no space left on device, copyfile/,
        "not the system's own words and a temporary file's name",
      );
      execFileSync("mount", ["-o", "remount,size=16m", disk]);
      await cliOk(["sync", B], bed.env);
      assert.deepEqual(await readFile(join(B, "big.bin")), await readFile(join(A, "big.bin")));
    } finally {
      execFileSync("umount", [disk]);
    }
  });
});
