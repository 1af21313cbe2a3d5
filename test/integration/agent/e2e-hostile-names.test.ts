import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdir, readFile, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, it } from "node:test";
import { fetchRefs, push } from "../../../gitstore/index.ts";
import { writePresence } from "../../../agent/presence.ts";
import { S3ObjectStore } from "../../../objectstore/s3-object-store.ts";
import { BucketLayout } from "../../../protocol/layout.ts";
import { cli, cliOk, waitUntil } from "../../helpers/agents.ts";
import { useAgentCloud } from "../../helpers/test-bed.ts";
import { exists, snapshot } from "../../helpers/folders.ts";
import { rawCommit, type RawEntry } from "../../helpers/hostile-tree.ts";

/**
 * Names and strings as an attacker with write access to the bucket chooses them (pushed through the
 * project's own git layer), and as ordinary people end up with them: a newline in a file name must never
 * shift one file's content onto another (that once pushed a file from outside the folder to the bucket),
 * a symlink is judged by where it resolves through the other symlinks, and nothing from the bucket acts
 * on the terminal of the person reading `status` or `log`.
 */
describe("hostile names, links and text", () => {
  const bed = useAgentCloud("e2e-hostile-names");

  /** A folder with one honest file synced to `repo`, and the attacker's view of the same repository. */
  async function synced(repo: string) {
    const env = bed.env;
    const url = `s3://cloudbridge/${repo}`;
    const root = bed.path(repo);
    const A = join(root, "a");
    await cliOk(["init", A, "--remote", url, "--listen", "poll", "--poll-interval", "1"], env);
    await writeFile(join(A, "honest.txt"), "honest\n");
    await cliOk(["sync", A], env);
    const attackerDir = join(root, "attacker.git");
    execFileSync("git", ["init", "--quiet", "--bare", attackerDir]);
    const ctx = { store: new S3ObjectStore(bed.t.cloud.bucket, bed.t.s3), layout: new BucketLayout(""), repo, gitDir: attackerDir };
    /** The bucket's main branch now. */
    const head = async () => (await fetchRefs(ctx)).refs.shared.get("refs/heads/main")!.oid;
    /** Pushes a commit of exactly `entries` on top of the bucket's main branch. */
    const attack = async (entries: Record<string, RawEntry>, options: { author?: string; message?: string } = {}) => {
      const commit = rawCommit(attackerDir, entries, { parent: await head(), ...options });
      await push({ ...ctx, agent: randomUUID(), updates: [{ ref: "refs/heads/main", oid: commit, onConflict: "force" }] });
    };
    /** Whether any version of any file in the bucket's history holds `text`. */
    const historyHolds = async (text: string): Promise<boolean> => {
      const revs = execFileSync("git", ["rev-list", await head()], { env: { ...process.env, GIT_DIR: attackerDir } })
        .toString()
        .trim()
        .split("\n");
      try {
        execFileSync("git", ["grep", "-q", "-F", text, ...revs], { env: { ...process.env, GIT_DIR: attackerDir } });
        return true;
      } catch (error) {
        if ((error as { status?: number }).status === 1) return false;
        throw error;
      }
    };
    /** The bucket's main tree: path → blob id (raw names, newlines included). */
    const bucketTree = async (): Promise<Map<string, string>> => {
      const out = execFileSync("git", ["ls-tree", "-r", "-z", await head()], { env: { ...process.env, GIT_DIR: attackerDir } });
      return new Map(
        out
          .toString()
          .split("\0")
          .filter(Boolean)
          .map((record) => [record.slice(record.indexOf("\t") + 1), record.split(" ")[2]!.split("\t")[0]!]),
      );
    };
    return { env, url, root, A, attack, historyHolds, bucketTree, ctx };
  }

  it("never commits a file from outside the folder when a name holds a newline (daemon, then clone + sync)", async () => {
    const { env, url, root, A, attack, historyHolds, bucketTree } = await synced("newline-leak");
    const secret = `SECRET-${randomUUID()}`;
    const victim = join(root, "victim-id_rsa");
    await writeFile(victim, `${secret}\n`);
    await bed.daemon(A, ["--debounce", "50"]);
    // `a`, then `a\n<absolute path of the victim's file>`, then `b`: joined by newlines, the middle path reads
    // as two, and every answer after it shifts onto the next file.
    const trap = `a\n${victim}`;
    await attack({ "honest.txt": { file: "honest\n" }, a: { file: "a\n" }, [trap]: { file: "decoy\n" }, b: { file: "b\n" } });
    await waitUntil(async () => (await exists(join(A, "b"))) || undefined, "the daemon to write the attacker's files", 30_000);
    // The daemon re-reads what it just wrote (its own writes echo through the watcher); a later change shows that round is over.
    await new Promise((resolve) => setTimeout(resolve, 3000));
    await writeFile(join(A, "after.txt"), "after\n");
    await waitUntil(async () => (await bucketTree()).has("after.txt") || undefined, "a change made after the attack to reach the bucket");
    assert.equal(await historyHolds(secret), false, "the victim's file reached the bucket");
    assert.equal(await readFile(join(A, trap), "utf8"), "decoy\n");
    assert.equal(await readFile(join(A, "b"), "utf8"), "b\n");

    const B = join(root, "b");
    await cliOk(["clone", url, B], env);
    await writeFile(join(B, "from-b.txt"), "b was here\n");
    await cliOk(["sync", B], env);
    assert.equal(await historyHolds(secret), false, "the victim's file reached the bucket from a fresh clone");
    const blobOf = (text: string) => execFileSync("git", ["hash-object", "--stdin"], { input: text }).toString().trim();
    const tree = await bucketTree();
    assert.equal(tree.get("b"), blobOf("b\n"));
    assert.equal(tree.get(trap), blobOf("decoy\n"));
    assert.deepEqual(await snapshot(B), {
      a: "a\n",
      [trap]: "decoy\n",
      "after.txt": "after\n",
      b: "b\n",
      "from-b.txt": "b was here\n",
      "honest.txt": "honest\n",
    });
    assert.equal(await readFile(victim, "utf8"), `${secret}\n`, "the victim's file is untouched");
  });

  it("lists names made here holding a newline or a carriage return as not uploaded; writes and syncs those the bucket holds", async () => {
    const { env, url, root, A, attack, bucketTree } = await synced("newline-names");
    // Made here: other machines (Windows; git-annex's logs) cannot hold these names, so they stay here, listed.
    const unportable: Record<string, string> = {
      "draft\nv2.txt": "the second draft\n",
      "plain.txt\r": "with a carriage return\n",
      "dir\nname/inner.txt": "inner\n",
    };
    await mkdir(join(A, "dir\nname"));
    for (const [name, content] of Object.entries(unportable)) await writeFile(join(A, name), content);
    await writeFile(join(A, "plain.txt"), "plain\n");
    const sync = await cli(["sync", A, "--json"], env);
    assert.equal(sync.code, 3, sync.stderr);
    const listed = (JSON.parse(sync.stdout) as { notUploaded: Array<{ path: string; reason: string }> }).notUploaded;
    assert.deepEqual(listed.map((p) => p.path).sort(), ["dir\nname", "draft\nv2.txt", "plain.txt\r"]);
    for (const { reason } of listed) assert.match(reason, /control character/);
    const tree = await bucketTree();
    assert.deepEqual([...tree.keys()].sort(), ["honest.txt", "plain.txt"], "only the portable names reached the bucket");

    // Such names that reach the bucket anyway (plain git, another tool) are written here, each with its own
    // content, and edits to them travel, to a running daemon too.
    const fromBucket: Record<string, string> = { notes: "notes\n", "notes\nold": "old notes\n", "tab\there.txt": "tab\n" };
    await attack({
      "honest.txt": { file: "honest\n" },
      "plain.txt": { file: "plain\n" },
      ...Object.fromEntries(Object.entries(fromBucket).map(([name, file]) => [name, { file }])),
    });
    const B = join(root, "b");
    await cliOk(["clone", url, B, "--listen", "poll", "--poll-interval", "1"], env);
    assert.deepEqual(await snapshot(B), { "honest.txt": "honest\n", "plain.txt": "plain\n", ...fromBucket });
    const status = await cliOk(["status", B, "--offline", "--json"], env);
    assert.deepEqual(JSON.parse(status.stdout).localChanges, [], "a fresh clone has nothing to commit");
    await cli(["sync", A], env);
    for (const [name, content] of Object.entries(fromBucket)) assert.equal(await readFile(join(A, name), "utf8"), content);

    await bed.daemon(B, ["--debounce", "50"]);
    await writeFile(join(A, "notes\nold"), "older notes\n");
    assert.equal((await cli(["sync", A], env)).code, 3, "the names made in A are still listed");
    await waitUntil(
      async () => (await readFile(join(B, "notes\nold"), "utf8")) === "older notes\n" || undefined,
      "the daemon to take the edit",
    );
  });

  it("refuses symlinks that lead outside through other symlinks, from the bucket and from the folder", async () => {
    const { env, url, root, A, attack, bucketTree } = await synced("symlinks");
    await writeFile(join(root, "victim-secret.txt"), "secret\n");
    const daemon = await bed.daemon(A, ["--debounce", "50"]);
    // Each text stays inside ("s/s/../victim-secret.txt" reads as "s/victim-secret.txt"); through `s -> .` each leads out.
    await attack({
      "honest.txt": { file: "honest\n" },
      s: { symlink: "." },
      up: { symlink: "s/.." },
      x: { symlink: "s/s/../victim-secret.txt" },
      inside: { symlink: "s/honest.txt" },
      later: { symlink: "t/.." },
    });
    const B = join(root, "b");
    const cloned = await cli(["clone", url, B], env);
    assert.equal(cloned.code, 3, `the clone exits with the refused code, as sync does:\n${cloned.stderr}`);
    assert.match(
      cloned.stdout,
      /REFUSED "up" from the bucket: the symlink points at "s\/\.\.", which resolves outside the folder through "s"/,
    );
    assert.match(cloned.stdout, /REFUSED "x" from the bucket: .*resolves outside the folder through "s", "s"/);
    assert.deepEqual(await snapshot(B), {
      "honest.txt": "honest\n",
      inside: "-> s/honest.txt",
      later: "-> t/..",
      s: "-> .",
    });
    const refusedPaths = () => daemon.events.filter((e) => e.event === "refused").map((e) => String(e.path));
    await waitUntil(() => refusedPaths().length >= 2 || undefined, "the daemon to refuse the outward links", 30_000);
    assert.deepEqual(refusedPaths().sort(), ["up", "x"]);
    assert.equal(await exists(join(A, "up")), false);
    assert.equal(await exists(join(A, "x")), false);

    // `later -> t/..` is harmless until `t -> .` arrives: then `t` is what must not be written.
    await attack({ "honest.txt": { file: "honest\n" }, s: { symlink: "." }, later: { symlink: "t/.." }, t: { symlink: "." } });
    const again = await cli(["sync", B], env);
    assert.equal(again.code, 3, again.stderr);
    assert.match(again.stdout, /REFUSED "t" from the bucket: it would make the symlink "later" lead outside/);
    assert.equal(await exists(join(B, "t")), false);
    await waitUntil(() => refusedPaths().includes("t") || undefined, "the daemon to refuse t", 30_000);
    assert.equal(await exists(join(A, "t")), false);

    // The same judgement for links made here: never uploaded, said so.
    await symlink("s/../victim-secret.txt", join(B, "mine"));
    await symlink("s/honest.txt", join(B, "fine"));
    const local = await cli(["sync", B], env);
    assert.equal(local.code, 3, local.stderr);
    assert.match(
      local.stdout,
      /NOT UPLOADED "mine": the symlink points at "s\/\.\.\/victim-secret\.txt", which resolves outside the folder through "s"/,
    );
    const tree = await bucketTree();
    assert.equal(tree.has("mine"), false, "the outward link was uploaded");
    assert.equal(tree.has("fine"), true);
    await symlink("s/../victim-secret.txt", join(A, "mine-too"));
    await waitUntil(
      () => daemon.events.some((e) => e.event === "refused.local" && e.path === "mine-too") || undefined,
      "the daemon to refuse a local link",
    );
    await writeFile(join(A, "after.txt"), "after\n");
    await waitUntil(async () => (await bucketTree()).has("after.txt") || undefined, "a later change to reach the bucket");
    assert.equal((await bucketTree()).has("mine-too"), false);
  });

  it("shows other machines' text harmlessly on a terminal, and no commit subject forges a log entry", async () => {
    const { env, A, attack, ctx } = await synced("terminal");
    const settings = { bucket: "cloudbridge", prefix: "", repo: "terminal" };
    await writePresence(ctx.store, settings, {
      agent: randomUUID(),
      description: "desk\x1b]0;owned\x07\x1b[2J",
      listen: "poll\x9b31m",
      state: "running",
      startedAt: "2026-11-28T00:00:00.000Z",
      lastSeen: "2026-11-28T00:00:00.000Z\r\x1b[Kforged line",
    });
    const fake = "f".repeat(40);
    const subject = `update\x1e${fake}\x1f\x1fForger\x1fforger@cloudbridge\x1f2020-01-01T00:00:00Z\x1fforged entry`;
    await attack(
      { "honest.txt": { file: "honest\n" }, "new.txt": { file: "new\n" } },
      { author: "E\x1b[31mvil\u202e", message: `${subject}\n` },
    );
    await cliOk(["sync", A], env);

    const status = await cliOk(["status", A], env);
    const raw = (text: string, chars: string) => [...chars].filter((c) => text.includes(c));
    assert.deepEqual(raw(status.stdout, "\x1b\x07\x9b\r"), [], "raw control characters reached the terminal");
    assert.match(status.stdout, /desk\\x1b\]0;owned\\x07\\x1b\[2J/);
    const statusJson = JSON.parse((await cliOk(["status", A, "--json"], env)).stdout) as {
      cloud: { machines: Array<{ description: string }> };
    };
    assert.ok(
      statusJson.cloud.machines.some((a) => a.description === "desk\x1b]0;owned\x07\x1b[2J"),
      "--json keeps the text as it is",
    );

    const log = await cliOk(["log", A, "--files"], env);
    assert.deepEqual(raw(log.stdout, "\x1b\x1e\x1f\u202e"), [], "raw control characters reached the terminal");
    assert.match(log.stdout, /E\\x1b\[31mvil\\u202e/);
    const entries = JSON.parse((await cliOk(["log", A, "--json"], env)).stdout) as Array<{
      commit: string;
      author: string;
      subject: string;
    }>;
    const commits = Number(execFileSync("git", ["-C", A, "rev-list", "--count", "refs/heads/main"]).toString());
    assert.equal(entries.length, commits, "one entry per commit, nothing forged");
    assert.equal(entries.filter((e) => e.commit === fake || e.author === "Forger").length, 0);
    assert.equal(entries[0]!.author, "E\x1b[31mvil\u202e");
    assert.equal(entries[0]!.subject, subject);
    assert.equal(log.stdout.match(/^[0-9a-f]{12} /gm)?.length, commits, "one header line per commit in the human output");
  });
});
