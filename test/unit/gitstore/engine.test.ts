import assert from "node:assert/strict";
import { copyFile, mkdir, readdir, readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { type GitEngine, GitStoreError, NativeGitEngine, parsePackIndex } from "../../../gitstore/index.ts";
import { IsomorphicGitEngine } from "../../../gitstore/isomorphic-engine.ts";
import { commitFile, git, gitInput, importCommits, initRepo, tempDir } from "../../helpers/git.ts";

// The same contract for both engines behind the seam.
for (const engine of [new NativeGitEngine(), new IsomorphicGitEngine()] as GitEngine[]) {
  describe(`git engine: ${engine.name}`, () => {
    let work: { path: string; remove(): Promise<void> };
    let repo: string;
    let gitDir: string;
    const commits: string[] = [];
    let counter = 0;
    const scratch = async () => {
      const dir = join(work.path, `out-${counter++}`);
      await mkdir(dir);
      return dir;
    };
    before(async () => {
      work = await tempDir(`engine-${engine.name}`);
      repo = join(work.path, "repo");
      await mkdir(repo);
      gitDir = await initRepo(repo);
      const big = Array.from({ length: 300 }, (_, i) => `line ${i} of a file that deltas well\n`).join("");
      commits.push(await commitFile(repo, "dir/a.txt", big));
      commits.push(await commitFile(repo, "dir/a.txt", `${big}one more\n`));
      commits.push(await commitFile(repo, "b.txt", "b\n"));
    });
    after(async () => work.remove());

    async function objectsOf(range: string[]): Promise<string[]> {
      return (await git(repo, "rev-list", "--objects", ...range))
        .split("\n")
        .map((line) => line.slice(0, 40))
        .sort();
    }

    it("packs exactly what is reachable from the tips and not from the excluded, as a self-contained pack", async () => {
      const out = await scratch();
      const pack = await engine.packObjects(gitDir, { tips: [commits[2]!], exclude: [commits[0]!, "f".repeat(40)] }, out);
      assert.ok(pack);
      const expected = await objectsOf([commits[2]!, `^${commits[0]!}`]);
      assert.deepEqual(parsePackIndex(await readFile(pack.idxPath), "idx").oids, expected);
      assert.equal(pack.objectCount, expected.length);
      assert.match(pack.name, /^pack-[0-9a-f]{40}$/);
      // Self-contained: an empty repository can index it without --fix-thin.
      const empty = join(work.path, `empty-${counter++}`);
      await git(work.path, "init", "-q", "--bare", empty);
      await git(empty, "index-pack", "-o", join(out, "check.idx"), pack.packPath);
      assert.equal(await engine.packObjects(gitDir, { tips: [commits[1]!], exclude: [commits[2]!] }, await scratch()), undefined);
    });

    // Only for an engine that begins packs early (the other packs when the range is known): nothing to skip.
    const beginPack = engine.beginPack?.bind(engine);
    if (beginPack)
      it("a pack begun before its range is known is the pack packObjects makes, whatever git makes of the range; cancelled, it ends having packed nothing", async () => {
        for (const exclude of [[commits[0]!], [commits[0]!, "f".repeat(40)]]) {
          const out = await scratch();
          const begun = beginPack(gitDir, out);
          // git's start overlaps this wait.
          await new Promise((resolve) => setTimeout(resolve, 50));
          const pack = await begun.pack({ tips: [commits[2]!], exclude });
          assert.ok(pack, `excluding ${exclude.join(" ")}`);
          assert.deepEqual(parsePackIndex(await readFile(pack.idxPath), "idx").oids, await objectsOf([commits[2]!, `^${commits[0]!}`]));
          assert.equal(pack.packPath, join(out, `${pack.name}.pack`));
          await begun.cancel(); // once given its range, nothing more to end
        }
        const nothing = beginPack(gitDir, await scratch());
        assert.equal(await nothing.pack({ tips: [commits[1]!], exclude: [commits[2]!] }), undefined, "nothing to pack");
        const out = await scratch();
        await beginPack(gitDir, out).cancel();
        assert.deepEqual(
          (await readdir(out)).filter((name) => !/^pack-[0-9a-f]{40}\.(pack|idx)$/.test(name)),
          [],
          "git has ended, leaving at most an empty pack",
        );
      });

    it("packs the included objects too, even those reachable from the excluded, and refuses ids it does not have", async () => {
      const older = await objectsOf([commits[0]!]);
      const range = { tips: [commits[2]!], exclude: [commits[1]!] };
      const pack = await engine.packObjects(gitDir, { ...range, include: older }, await scratch());
      assert.ok(pack);
      const expected = [...new Set([...(await objectsOf([commits[2]!, `^${commits[1]!}`])), ...older])].sort();
      assert.deepEqual(parsePackIndex(await readFile(pack.idxPath), "idx").oids, expected);
      assert.equal(pack.objectCount, expected.length);
      await assert.rejects(
        engine.packObjects(gitDir, { ...range, include: ["e".repeat(40)] }, await scratch()),
        (error: unknown) => error instanceof GitStoreError && error.code === "missing-objects",
      );
    });

    it("indexes a received pack, and refuses a damaged one or one with an unsafe tree entry", async () => {
      const source = await engine.packObjects(gitDir, { tips: [commits[2]!], exclude: [] }, await scratch());
      const inbox = await scratch();
      await copyFile(source!.packPath, join(inbox, `${source!.name}.pack`));
      const indexed = await engine.indexPack(gitDir, join(inbox, `${source!.name}.pack`));
      assert.equal(indexed.name, source!.name);
      assert.equal(indexed.objectCount, (await objectsOf([commits[2]!])).length);
      assert.deepEqual(parsePackIndex(await readFile(indexed.idxPath), "idx").oids, await objectsOf([commits[2]!]));

      const damaged = await scratch();
      const bytes = await readFile(source!.packPath);
      bytes[40]! ^= 0x55;
      await writeFile(join(damaged, "pack-x.pack"), bytes);
      await assert.rejects(
        engine.indexPack(gitDir, join(damaged, "pack-x.pack")),
        (e: unknown) => e instanceof GitStoreError && e.code === "corrupt-pack",
      );

      for (const name of ["..", ".git", "a/b"]) {
        const blob = await gitInput(repo, "x\n", "hash-object", "-w", "--stdin");
        const tree = await gitInput(
          repo,
          Buffer.concat([Buffer.from(`100644 ${name}\0`), Buffer.from(blob, "hex")]),
          "hash-object",
          "-t",
          "tree",
          "-w",
          "--literally",
          "--stdin",
        );
        const commit = await git(repo, "commit-tree", tree, "-m", "evil");
        const evil = await (engine.name === "native" ? engine : new NativeGitEngine()).packObjects(
          gitDir,
          { tips: [commit], exclude: [] },
          await scratch(),
        );
        await assert.rejects(
          engine.indexPack(gitDir, evil!.packPath),
          (e: unknown) => e instanceof GitStoreError && e.code === "unsafe-tree-entry",
          name,
        );
      }
    });

    it("finds what is missing for a set of tips, looking also in an extra pack directory", async () => {
      const other = join(work.path, `other-${counter++}`);
      await mkdir(other);
      const otherGitDir = await initRepo(other);
      assert.notDeepEqual(await engine.missingObjects(otherGitDir, [commits[2]!]), []);
      const extra = await scratch();
      await mkdir(join(extra, "pack"));
      const pack = await engine.packObjects(gitDir, { tips: [commits[2]!], exclude: [] }, join(extra, "pack"));
      assert.deepEqual(await engine.missingObjects(otherGitDir, [commits[2]!], extra), []);
      const partial = await scratch();
      await mkdir(join(partial, "pack"));
      await engine.packObjects(gitDir, { tips: [commits[2]!], exclude: [commits[1]!] }, join(partial, "pack"));
      assert.notDeepEqual(await engine.missingObjects(otherGitDir, [commits[2]!], partial), [], "commits[1]'s objects are absent");
      assert.ok(pack);
    });

    it("answers presence, ancestry and refs of the local repository (what push and fetch ask)", async () => {
      const missing = "e".repeat(40);
      assert.deepEqual(await engine.hasObjects(gitDir, [commits[0]!, missing]), new Set([commits[0]!]));
      assert.equal(await engine.isAncestor(gitDir, commits[0]!, commits[2]!), true);
      assert.equal(await engine.isAncestor(gitDir, commits[2]!, commits[0]!), false);
      assert.equal(await engine.isAncestor(gitDir, commits[1]!, commits[1]!), true);
      assert.equal(await engine.isAncestor(gitDir, missing, commits[2]!), false, "a commit not here is an ancestor of nothing");
      assert.equal(await engine.resolveRef(gitDir, "refs/heads/main"), commits[2]);
      assert.equal(await engine.resolveRef(gitDir, "refs/heads/absent"), undefined);
      const prefix = `refs/remotes/${engine.name}/`;
      await engine.updateRefs(gitDir, [
        { ref: `${prefix}main`, oid: commits[2]! },
        { ref: `${prefix}old`, oid: commits[0]! },
      ]);
      assert.deepEqual(
        await engine.readRefs(gitDir, [prefix]),
        new Map([
          [`${prefix}main`, commits[2]!],
          [`${prefix}old`, commits[0]!],
        ]),
      );
      await engine.updateRefs(gitDir, [{ ref: `${prefix}old`, oid: null }]);
      assert.deepEqual([...(await engine.readRefs(gitDir, [prefix])).keys()], [`${prefix}main`]);
      assert.equal(await git(repo, "rev-parse", `${prefix}main`), commits[2], "git itself sees what the engine wrote");
    });

    it("combines packs into one holding every object of each", async () => {
      const first = await engine.packObjects(gitDir, { tips: [commits[0]!], exclude: [] }, await scratch());
      const second = await engine.packObjects(gitDir, { tips: [commits[2]!], exclude: [commits[0]!] }, await scratch());
      const out = await scratch();
      const combined = await engine.combinePacks([first!, second!], out);
      assert.equal(combined.objectCount, first!.objectCount + second!.objectCount);
      assert.deepEqual(parsePackIndex(await readFile(combined.idxPath), "idx").oids, await objectsOf([commits[2]!]));
      const bare = join(work.path, `bare-${counter++}`);
      await git(work.path, "init", "-q", "--bare", bare);
      await copyFile(combined.packPath, join(bare, "objects", "pack", `${combined.name}.pack`));
      await copyFile(combined.idxPath, join(bare, "objects", "pack", `${combined.name}.idx`));
      await git(bare, "update-ref", "refs/heads/main", commits[2]!);
      await git(bare, "fsck", "--strict", "--no-dangling");
      assert.deepEqual(
        (await readdir(out)).filter((name) => !name.startsWith("pack-")),
        [],
        "no scratch files left",
      );
    });
  });
}

// Both engines: native git in the agent, isomorphic-git (with cloudbridge's delta writer) in the Lambda.
for (const engine of [new NativeGitEngine(), new IsomorphicGitEngine()] as GitEngine[]) {
  describe(`git engine: ${engine.name} compaction`, () => {
    it("combines one pack per push into a pack within 1.1× of what `git clone` receives, and merges a part of a history", async () => {
      const work = await tempDir(`engine-compaction-${engine.name}`);
      try {
        const repo = join(work.path, "repo");
        await mkdir(repo);
        const gitDir = await initRepo(repo);
        // A first push of 20 files, then 40 pushes of a few changed lines in one of them: deltas are only
        // found between versions of the same path.
        const line = (n: number) => `${["alpha", "bridge", "cloud", "delta", "engine"][n % 5]} line ${(n * 104729) % 1000003}`;
        const files = Array.from({ length: 20 }, (_, f) => Array.from({ length: 80 }, (_, i) => line(f * 80 + i)));
        const text = (f: number) => ({ [`notes/file-${f}.txt`]: `${files[f]!.join("\n")}\n` });
        const edit = (push: number) => {
          const f = (push * 7) % files.length;
          for (let e = 0; e < 3; e++) files[f]![(push * 13 + e * 17) % 80] = line(100_000 + push * 3 + e);
          return text(f);
        };
        await importCommits(repo, "main", 41, (push) => (push === 0 ? Object.assign({}, ...files.map((_, f) => text(f))) : edit(push)));
        const tips = (await git(repo, "rev-list", "--reverse", "main")).split("\n");
        // The pushes' packs as an agent's native git writes them (with deltas among their own objects).
        const pusher = new NativeGitEngine();
        const packs = [];
        for (const [i, tip] of tips.entries()) {
          const out = join(work.path, `push-${i}`);
          await mkdir(out);
          packs.push((await pusher.packObjects(gitDir, { tips: [tip], exclude: i === 0 ? [] : [tips[i - 1]!] }, out))!);
        }
        const combinedDir = join(work.path, "combined");
        await mkdir(combinedDir);
        const combined = await engine.combinePacks(packs, combinedDir);
        // The clone's baseline: git's own best packing of the history (fast-import's pack is not that).
        await git(repo, "repack", "-adfq");
        const clone = join(work.path, "clone.git");
        await git(work.path, "clone", "-q", "--bare", "--no-local", repo, clone);
        const clonePack = (await readdir(join(clone, "objects", "pack"))).find((name) => name.endsWith(".pack"))!;
        const ratio = (await stat(combined.packPath)).size / (await stat(join(clone, "objects", "pack", clonePack))).size;
        assert.ok(ratio <= 1.1, `the combined pack is ${ratio.toFixed(2)}× the clone's`);

        // The newest packs alone: their commits' parents and unchanged files are in packs not merged.
        const partDir = join(work.path, "part");
        await mkdir(partDir);
        const part = await engine.combinePacks(packs.slice(-5), partDir);
        assert.equal(
          part.objectCount,
          packs.slice(-5).reduce((sum, pack) => sum + pack.objectCount, 0),
        );
      } finally {
        await work.remove();
      }
    });
  });
}
