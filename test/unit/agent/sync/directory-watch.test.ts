import assert from "node:assert/strict";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { lstat, mkdir, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, it } from "node:test";
import { inotifyWatches } from "../../../helpers/system.ts";
import { subscribeByDirectory } from "../../../../agent/sync/directory-watch.ts";
import { useTempDir } from "../../../helpers/test-bed.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(check: () => boolean | Promise<boolean>, what: string, ms = 10_000): Promise<void> {
  const deadline = performance.now() + ms;
  while (!(await check())) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

/**
 * The Linux watcher holds a watch per directory and nothing per file: directories that appear are
 * watched with everything below them, directories that go stop being watched, and a moved directory's
 * events name its new place.
 */
describe("watching a folder one directory at a time", { skip: process.platform !== "linux" && "inotify is Linux's" }, () => {
  const scratch = useTempDir("directory-watch");

  it("follows directories made, moved and removed after it started", async () => {
    const root = join(scratch.path, "tree");
    await mkdir(join(root, "a", "deep"), { recursive: true });
    await mkdir(join(root, ".git", "objects"), { recursive: true });
    const before = await inotifyWatches();
    const seen: string[] = [];
    const errors: Error[] = [];
    const subscription = await subscribeByDirectory(root, (error, events) => {
      if (error) errors.push(error);
      for (const e of events) seen.push(e.path.slice(root.length + 1));
    });
    try {
      // The top, a and a/deep; never .git.
      assert.equal((await inotifyWatches()) - before, 3);

      await writeFile(join(root, "a", "deep", "one.txt"), "1");
      await until(() => seen.includes("a/deep/one.txt"), "a write two levels down");

      // A directory made with a directory inside: reported, and both watched, so a later write in it is seen.
      await mkdir(join(root, "b", "c"), { recursive: true });
      await until(() => seen.includes("b"), "the new directory");
      await until(async () => (await inotifyWatches()) - before === 5, "watches on b and b/c");
      await writeFile(join(root, "b", "c", "two.txt"), "2");
      await until(() => seen.includes("b/c/two.txt"), "a write in a directory made after the start");

      // Moved: its events name the new place, and the old place holds no watch.
      await rename(join(root, "b"), join(root, "moved"));
      await until(() => seen.includes("moved"), "the move");
      await sleep(100);
      await writeFile(join(root, "moved", "c", "three.txt"), "3");
      await until(() => seen.includes("moved/c/three.txt"), "a write in the moved directory, by its new path");
      assert.ok(!seen.includes("b/c/three.txt"), "never reported under the old path");
      assert.equal((await inotifyWatches()) - before, 5);

      // Removed: its watches go.
      await rm(join(root, "moved"), { recursive: true });
      await until(async () => (await inotifyWatches()) - before === 3, "the removed directories' watches released");
      assert.deepEqual(errors, []);
    } finally {
      await subscription.unsubscribe();
    }
    assert.equal((await inotifyWatches()) - before, 0);
  });

  it("watches a directory removed and made again at once, which the filesystem gives its old inode back", async () => {
    const root = join(scratch.path, "again");
    await mkdir(join(root, "d"), { recursive: true });
    await writeFile(join(root, "d", "old name.txt"), "1");
    const before = await inotifyWatches();
    const seen: string[] = [];
    const subscription = await subscribeByDirectory(root, (error, events) => {
      if (!error) for (const e of events) seen.push(e.path.slice(root.length + 1));
    });
    try {
      // A checkout moving the directory's only file: git removes the emptied directory, then makes it again.
      const inode = (await lstat(join(root, "d"))).ino;
      // Both before the watcher hears of either (git, another process, does them one after the other).
      rmSync(join(root, "d"), { recursive: true });
      mkdirSync(join(root, "d"));
      writeFileSync(join(root, "d", "new name.txt"), "1");
      await until(() => seen.includes("d"), "the directory made again");
      await sleep(100);
      seen.length = 0;
      await writeFile(join(root, "d", "edited later.txt"), "2");
      await until(
        () => seen.includes("d/edited later.txt"),
        `a later write in it (same inode as before: ${inode === (await lstat(join(root, "d"))).ino})`,
      );
      assert.equal((await inotifyWatches()) - before, 2, "the top and d, the old watch released");
    } finally {
      await subscription.unsubscribe();
    }
  });
});
