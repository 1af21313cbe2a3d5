import assert from "node:assert/strict";
import { rm, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, it } from "node:test";
import { learnAnnexed } from "../../../../agent/sync/annex-content.ts";
import { journalFile, StatCache, statCacheFile } from "../../../../agent/sync/stat-cache.ts";
import { newLocalRepo } from "../../../helpers/local-repo.ts";
import { useTempDir } from "../../../helpers/test-bed.ts";

/**
 * Which files are annexed is known from the stat cache, not from reading every blob at every round: a
 * file committed as it is and too large to be a pointer is known not to be one at once; a small one whose
 * blob could be a pointer is read once, and what was learnt is kept in the cache file. A cache written by
 * an older version (without that knowledge) still loads; its blobs are learnt once.
 */
describe("annexed paths in the stat cache", () => {
  const scratch = useTempDir("annexed");

  it("learns each blob once, keeps it, and reads older caches", async () => {
    const dir = join(scratch.path, "folder");
    const repo = await newLocalRepo(dir);
    const key = `SHA256E-s5--${"ab".repeat(32)}.txt`;
    await writeFile(join(dir, "large-plain.txt"), "x".repeat(5000));
    await writeFile(join(dir, "small-plain.txt"), "a small file that might have been a pointer\n");
    await writeFile(join(dir, "pointer.txt"), `/annex/objects/${key}\n`);
    await symlink("large-plain.txt", join(dir, "link"));
    assert.ok((await repo.commitChanges()).commit);
    const annexed = () => Object.fromEntries([...repo.cache.entries].map(([path, e]) => [path, e.annexed]));
    assert.deepEqual(annexed(), {
      "large-plain.txt": false,
      "small-plain.txt": undefined,
      "pointer.txt": undefined,
      link: false,
    });

    assert.equal(await learnAnnexed(repo), 2, "only the two blobs of a pointer's size are looked at");
    assert.deepEqual(annexed(), { "large-plain.txt": false, "small-plain.txt": false, "pointer.txt": key, link: false });
    assert.equal(await learnAnnexed(repo), 0, "nothing is read again");

    await repo.saveCache();
    const file = statCacheFile(repo.stateDir);
    const reloaded = await StatCache.load(file);
    assert.equal(reloaded.entries.get("pointer.txt")?.annexed, key);
    assert.equal(reloaded.entries.get("small-plain.txt")?.annexed, false);

    // A cache as an older version wrote it: one file, seven fields per entry. Kept (no re-hash), the knowledge relearnt.
    const older = {
      format: 1,
      commit: reloaded.commit,
      entries: [...reloaded.entries].map(([path, e]) => [path, e.mode, e.oid, e.size, e.mtimeMs, e.ino, 0]),
    };
    await writeFile(file, JSON.stringify(older));
    await rm(journalFile(file), { force: true });
    const loaded = await StatCache.load(file);
    assert.equal(loaded.entries.size, 4);
    assert.equal(loaded.commit, repo.cache.commit);
    assert.equal(loaded.entries.get("pointer.txt")?.annexed, undefined);
    assert.equal(loaded.entries.get("pointer.txt")?.oid, repo.cache.entries.get("pointer.txt")?.oid);
  });
});
