import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { AnnexBranch } from "../../../../annex/logs/annex-branch.ts";
import { readLocations, recordPresence } from "../../../../annex/logs/location-tracking.ts";

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
});
