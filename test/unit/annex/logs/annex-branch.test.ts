import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { AnnexBranch } from "../../../../annex/logs/annex-branch.ts";
import { readLocations, recordPresence } from "../../../../annex/logs/location-tracking.ts";
import { locationLogPath } from "../../../../annex/logs/location-log.ts";
import { md5 } from "../../../../annex/content/local-store.ts";

const KEY = `SHA256E-s3--${"ab".repeat(32)}.txt`;
const A = "11111111-1111-4111-8111-111111111111";
const B = "22222222-2222-4222-8222-222222222222";
const CLOUD = "33333333-3333-4333-8333-333333333333";

describe("the git-annex branch (native git)", () => {
  const root = mkdtempSync(join(tmpdir(), "annex-branch-"));
  after(() => rmSync(root, { recursive: true, force: true }));
  const gitDir = join(root, "repo.git");
  execFileSync("git", ["init", "-q", "--bare", gitDir]);
  const branch = new AnnexBranch(gitDir);

  it("union-merges diverged branches: both sides' entries survive and the newest per repository wins", async () => {
    await recordPresence(branch, [{ key: KEY, uuid: A, present: true }]);
    const base = (await branch.head())!;
    await recordPresence(branch, [{ key: KEY, uuid: CLOUD, present: true }]);
    const ours = (await branch.head())!;
    // Another agent, from the same base: B got it, and later A dropped it.
    assert.ok(await branch.compareAndSwap(base, ours));
    await recordPresence(branch, [{ key: KEY, uuid: B, present: true }]);
    await recordPresence(branch, [{ key: KEY, uuid: A, present: false }]);
    const theirs = (await branch.head())!;

    const merged = (await branch.unionMerge(ours, theirs))!;
    const parents = execFileSync("git", ["--git-dir", gitDir, "rev-list", "--parents", "-n1", merged], { encoding: "utf8" })
      .trim()
      .split(" ");
    assert.deepEqual(parents.slice(1), [ours, theirs], "a merge commit of both");
    assert.ok(await branch.compareAndSwap(merged, theirs));
    const locations = await readLocations(branch, KEY);
    assert.deepEqual(
      [...locations.values()]
        .filter((l) => l.status === "1")
        .map((l) => l.uuid)
        .sort(),
      [B, CLOUD],
    );
    assert.equal(await branch.unionMerge(merged, ours), merged, "merging an ancestor is a no-op");
  });

  it("reads, writes and merges files whose names hold a newline, each with its own content", async () => {
    const names = ["odd/x", "odd/x\nodd/y", "odd/y", "odd/z\r"];
    await branch.change("odd names", new Map(names.map((name) => [name, () => `${JSON.stringify(name)}\n`])));
    const base = (await branch.head())!;
    assert.deepEqual(await branch.readMany([...names, "odd/missing\nodd/x"], base), [
      ...names.map((n) => `${JSON.stringify(n)}\n`),
      undefined,
    ]);
    await branch.change("ours", new Map([["odd/x\nodd/y", (old) => `${old}ours\n`]]));
    const ours = (await branch.head())!;
    assert.ok(await branch.compareAndSwap(base, ours));
    await branch.change("theirs", new Map([["odd/x\nodd/y", (old) => `${old}theirs\n`]]));
    const merged = (await branch.unionMerge(ours, (await branch.head())!))!;
    assert.deepEqual(await branch.readMany(names, merged), ['"odd/x"\n', '"odd/x\\nodd/y"\nours\ntheirs\n', '"odd/y"\n', '"odd/z\\r"\n']);
  });

  it("a compare-and-swap against a moved branch fails, and concurrent changes all land", async () => {
    const head = (await branch.head())!;
    assert.equal(await branch.compareAndSwap(head, "0".repeat(40)), false);
    const keys = Array.from({ length: 6 }, (_, i) => `SHA256E-s${i}--${String(i).repeat(64)}`);
    await Promise.all(keys.map((key) => recordPresence(branch, [{ key, uuid: A, present: true }])));
    for (const key of keys) assert.equal((await readLocations(branch, key)).get(A)?.status, "1");
  });

  it("a change written into its parent's tree makes the tree git's index makes, and a repository git checks clean", async () => {
    // The same changes in two repositories: one whose objects this process writes (the trees edited in
    // place), one shared (core.sharedRepository: git writes its objects, through the index).
    const [edited, indexed] = ["edited.git", "indexed.git"].map((name) => join(root, name));
    execFileSync("git", ["init", "-q", "--bare", edited!]);
    execFileSync("git", ["init", "-q", "--bare", "--shared=group", indexed!]);
    const trees = [];
    for (const dir of [edited!, indexed!]) {
      const b = new AnnexBranch(dir);
      await b.change("start", new Map([["uuid.log", () => `${A} a\n`]]));
      // Fixed contents (a location log's lines carry the time): the trees must be the same bytes.
      const logs = Array.from({ length: 5 }, (_, i) => locationLogPath(`SHA256E-s${i}--${String(i).repeat(64)}`, md5));
      for (const path of logs) await b.change("add", new Map([[path, () => `1 1 ${A}\n`]]));
      await b.change(
        "two at once",
        new Map([
          [logs[0]!, () => `2 0 ${A}\n`],
          [logs[1]!, (old) => `${old}1 1 ${B}\n`],
        ]),
      );
      await b.change(
        "odd names",
        new Map([
          ["odd/x\ny", () => "1\n"],
          ["odd/x", () => "2\n"],
          ["odd-y", () => "3\n"],
          ["odd.z", () => "4\n"],
        ]),
      );
      const paths = execFileSync("git", ["--git-dir", dir, "ls-tree", "-r", "--name-only", "-z", "git-annex"], { encoding: "utf8" });
      assert.equal(paths.split("\0").filter(Boolean).length, 10, "uuid.log, five location logs, four odd names");
      execFileSync("git", ["--git-dir", dir, "fsck", "--strict", "--no-dangling"], { stdio: "pipe" });
      trees.push(execFileSync("git", ["--git-dir", dir, "rev-parse", "git-annex^{tree}"], { encoding: "utf8" }).trim());
    }
    assert.equal(trees[0], trees[1]);
    // A record in the first starts three git processes (the old log read, the tree reader, the compare-and-swap), not seven.
    const started = async (dir: string) => {
      const trace = join(root, `trace-${trees.length}-${Math.random()}`);
      process.env.GIT_TRACE = trace;
      try {
        await recordPresence(new AnnexBranch(dir), [{ key: KEY, uuid: B, present: true }]);
      } finally {
        delete process.env.GIT_TRACE;
      }
      return [...readFileSync(trace, "utf8").matchAll(/built-in: git ([a-z-]+)/g)].map((m) => m[1]).sort();
    };
    assert.deepEqual(await started(edited!), ["cat-file", "cat-file", "update-ref"]);
    assert.ok((await started(indexed!)).includes("write-tree"));
    const loose = execFileSync("git", ["--git-dir", edited!, "count-objects"], { encoding: "utf8" });
    assert.match(loose, /^\d+ objects/, "written as loose objects");
  });
});
