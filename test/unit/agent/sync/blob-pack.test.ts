import assert from "node:assert/strict";
import { cp, lutimes, mkdir, readdir, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, it } from "node:test";
import { learnAnnexed } from "../../../../agent/sync/annex-content.ts";
import { PACK_AT_LEAST, packFileBlobs, writeBlobs } from "../../../../agent/sync/blob-pack.ts";
import { formatPackIndex, parsePackIndex } from "../../../../gitstore/index.ts";
import { runGit } from "../../../../localgit/index.ts";
import { git, gitInput } from "../../../helpers/git.ts";
import { newLocalRepo, openLocalRepo } from "../../../helpers/local-repo.ts";
import { useTempDir } from "../../../helpers/test-bed.ts";

/** The loose objects of a repository (`objects/xx/…`), as ids. */
async function looseObjects(gitDir: string): Promise<string[]> {
  const objects = join(gitDir, "objects");
  const ids: string[] = [];
  for (const dir of await readdir(objects)) {
    if (!/^[0-9a-f]{2}$/.test(dir)) continue;
    for (const name of await readdir(join(objects, dir))) ids.push(dir + name);
  }
  return ids;
}

async function packNames(gitDir: string): Promise<string[]> {
  return (await readdir(join(gitDir, "objects", "pack"))).sort();
}

/**
 * Files hashed in bulk go into one pack of the local repository, not a loose object each: the blobs are
 * the ones `git hash-object --no-filters` makes, the index is the one `git index-pack` writes for that
 * pack, and a commit of thousands of files leaves no loose blob behind (git would otherwise have to pack
 * them all at its next `gc`).
 */
describe("blobs of many files written as one pack", () => {
  const scratch = useTempDir("blob-pack");

  it("makes git's blobs and git's own index, each object once, and says which files it could not read", async () => {
    const dir = join(scratch.path, "files");
    const repo = join(scratch.path, "repo.git");
    await mkdir(join(dir, "sub"), { recursive: true });
    await git(scratch.path, "init", "-q", "--bare", repo);
    const files: Record<string, string | Buffer> = {
      "a.txt": "alpha\n",
      "same-as-a.txt": "alpha\n",
      "empty.txt": "",
      "sub/binary.bin": Buffer.from([0, 1, 2, 255, 10, 13]),
      "sub/larger.txt": "line\n".repeat(20_000),
    };
    for (const [path, content] of Object.entries(files)) await writeFile(join(dir, path), content);
    await symlink("a.txt", join(dir, "link"));
    const paths = [...Object.keys(files), "gone.txt", "link", "sub"].map((p) => join(dir, p));

    const seen: number[] = [];
    const results = await packFileBlobs(repo, paths, (i) => seen.push(i));

    const expected = await Promise.all(Object.keys(files).map((p) => git(dir, "hash-object", "--no-filters", p)));
    assert.deepEqual(results.slice(0, 5), expected, "the blob ids git gives the same files");
    const failures = results.slice(5).map((r) => (typeof r === "string" ? r : r.code));
    assert.deepEqual(failures, ["ENOENT", "ELOOP", "EINVAL"], "gone, a symlink (never followed), a folder");
    assert.deepEqual(seen, [0, 1, 2, 3, 4], "each file read is shown once");

    assert.deepEqual(await looseObjects(repo), [], "nothing loose");
    const packs = await packNames(repo);
    assert.equal(packs.length, 2, packs.join(", "));
    const pack = join(
      repo,
      "objects",
      "pack",
      packs.find((p) => p.endsWith(".pack"))!,
    );
    const ours = await readFile(pack.replace(/\.pack$/, ".idx"));
    assert.equal(parsePackIndex(ours, "ours").objectCount, 4, "the duplicate is written once");
    await git(repo, "verify-pack", pack);
    for (const [path, content] of Object.entries(files)) {
      const oid = expected[Object.keys(files).indexOf(path)]!;
      const { stdout } = await runGit(["cat-file", "blob", oid], { gitDir: repo });
      assert.deepEqual(stdout, Buffer.from(content), `${path} reads back from the pack`);
    }
    // git's own index of the same pack, byte for byte.
    const copy = join(scratch.path, "copy.pack");
    await cp(pack, copy);
    await git(scratch.path, "index-pack", copy);
    assert.deepEqual(ours, await readFile(join(scratch.path, "copy.idx")));
  });

  it("writes the 8-byte offsets of objects past 2 GiB as git reads them", async () => {
    const objects = [
      { oid: "ff".repeat(20), offset: 12, crc32: 1 },
      { oid: "00".repeat(20), offset: 2 ** 31 + 5, crc32: 2 },
      { oid: "80".repeat(20), offset: 2 ** 33, crc32: 3 },
    ];
    const index = formatPackIndex(objects, "ab".repeat(20));
    assert.deepEqual(parsePackIndex(index, "large").oids, ["00".repeat(20), "80".repeat(20), "ff".repeat(20)]);
    const shown = await gitInput(scratch.path, index, "show-index");
    assert.deepEqual(
      shown.split("\n").map((line) => line.split(" ").slice(0, 2).join(" ")),
      [`${2 ** 31 + 5} ${"00".repeat(20)}`, `${2 ** 33} ${"80".repeat(20)}`, `12 ${"ff".repeat(20)}`],
    );
    assert.throws(() => formatPackIndex([objects[0]!, objects[0]!], "ab".repeat(20)), /each object once/);
  });

  it("a commit of thousands of files leaves one pack and no file's blob loose, the tree git makes, and knows which files are pointers", async () => {
    const dir = join(scratch.path, "folder");
    await mkdir(dir, { recursive: true });
    const FILES = 1_200;
    const key = `SHA256E-s5--${"ab".repeat(32)}.txt`;
    for (let d = 0; d < 12; d++) {
      await mkdir(join(dir, `dir-${d}`));
      for (let f = 0; f < FILES / 12; f++) await writeFile(join(dir, `dir-${d}`, `file-${f}.txt`), `file ${d}/${f}\n`);
    }
    await writeFile(join(dir, "pointer.txt"), `/annex/objects/${key}\n`);
    for (let l = 0; l < 5; l++) await symlink(`dir-${l}/file-1.txt`, join(dir, `link-${l}`));
    await writeFile(join(dir, "dir-0", "file-0.txt"), "the same as another\n");
    await writeFile(join(dir, "dir-1", "file-0.txt"), "the same as another\n");
    // Written a minute ago: a file changed within the scan's racy window is hashed again at the next scan
    // (racy git), and the reopened scan below must find nothing to hash however fast this machine wrote them.
    const minuteAgo = new Date(Date.now() - 60_000);
    for (const entry of await readdir(dir, { recursive: true })) await lutimes(join(dir, entry), minuteAgo, minuteAgo);
    // The same files committed by plain git, in a copy: the tree must be the one git makes.
    const plain = join(scratch.path, "plain");
    await cp(dir, plain, { recursive: true, verbatimSymlinks: true });
    await git(plain, "init", "-q");
    await git(plain, "add", "-A");
    const plainTree = await git(plain, "write-tree");

    const repo = await newLocalRepo(dir);
    const gitDir = join(dir, ".git");
    const before = new Set(await looseObjects(gitDir));
    const { commit, scan } = await repo.commitChanges();
    assert.ok(commit);
    assert.equal(scan.changes.size, FILES + 1 + 5);
    assert.equal(await git(dir, "rev-parse", `${commit}^{tree}`), plainTree, "the tree plain git makes of the same files");

    const loose = (await looseObjects(gitDir)).filter((oid) => !before.has(oid));
    const types = await Promise.all(loose.map((oid) => git(dir, "cat-file", "-t", oid)));
    const looseBlobs = types.filter((type) => type === "blob").length;
    // The links' five blobs are loose (fewer than a pack's worth); no file's blob is.
    assert.equal(looseBlobs, 5, `${looseBlobs} of the ${loose.length} loose objects are blobs`);
    assert.equal((await packNames(gitDir)).filter((p) => p.endsWith(".pack")).length, 1);
    assert.equal(await git(dir, "fsck", "--no-progress", "--strict"), "");

    // The pointer-size files were read here: which are pointers is known without reading them back.
    assert.equal(repo.cache.entries.get("pointer.txt")?.annexed, key);
    assert.equal(repo.cache.entries.get("dir-3/file-7.txt")?.annexed, false);
    assert.equal(await learnAnnexed(repo), 0, "no blob is read back to learn whether it is a pointer");

    // Reopened: the stat cache agrees with the folder, nothing is hashed again.
    await repo.saveCache();
    const again = await openLocalRepo(dir);
    const next = await again.commitChanges();
    assert.equal(next.commit, undefined);
    assert.equal(next.scan.hashed, 0);
  });

  it("writes blobs of bytes (link targets, pointers) by one git process, loose when few and as one pack when many", async () => {
    const repo = join(scratch.path, "bytes.git");
    await git(scratch.path, "init", "-q", "--bare", repo);
    const few = ["a target", "/annex/objects/SHA256E-s5--00.txt\n", "a target"].map((t) => Buffer.from(t));
    const ids = await writeBlobs(repo, few);
    const expected = await Promise.all(few.map((content) => gitInput(scratch.path, content, "hash-object", "--stdin")));
    assert.deepEqual(ids, expected);
    assert.deepEqual((await looseObjects(repo)).sort(), [...new Set(expected)].sort(), "few: loose objects");
    assert.deepEqual(await packNames(repo), []);

    const many = Array.from({ length: PACK_AT_LEAST }, (_, i) => Buffer.from(`target ${i}`));
    const manyIds = await writeBlobs(repo, many);
    assert.equal(manyIds.length, PACK_AT_LEAST);
    assert.equal(manyIds[7], await gitInput(scratch.path, many[7]!, "hash-object", "--stdin"));
    assert.equal((await looseObjects(repo)).length, 2, "many: nothing more loose");
    assert.equal((await packNames(repo)).length, 2, "many: one pack and its index");
    assert.equal(await git(repo, "fsck", "--no-progress", "--strict", "--no-dangling"), "");
  });

  it("leaves nothing behind when killed: a temporary pack is removed at the next opening", async () => {
    const dir = join(scratch.path, "killed");
    await newLocalRepo(dir);
    const packDir = join(dir, ".git", "objects", "pack");
    await writeFile(join(packDir, "tmp_pack_cloudbridge_0123456789abcdef.pack"), "PACK half written");
    await writeFile(join(packDir, "tmp_pack_other"), "not ours");
    await openLocalRepo(dir);
    assert.deepEqual(await packNames(join(dir, ".git")), ["tmp_pack_other"]);
    await rm(join(packDir, "tmp_pack_other"));
  });
});
