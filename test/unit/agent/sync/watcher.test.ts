import assert from "node:assert/strict";
import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { watchFolder, watcherTrouble, type Subscribe } from "../../../../agent/sync/watcher.ts";
import { tempDir } from "../../../helpers/git.ts";

/** inotify watches this process holds now (Linux: one `inotify wd:` line per watch in /proc/self/fdinfo). */
async function inotifyWatches(): Promise<number> {
  let watches = 0;
  for (const fd of await readdir("/proc/self/fdinfo")) {
    const info = await readFile(`/proc/self/fdinfo/${fd}`, "utf8").catch(() => "");
    watches += info.split("\n").filter((line) => line.startsWith("inotify wd:")).length;
  }
  return watches;
}

describe("the folder watcher", () => {
  let scratch: { path: string; remove(): Promise<void> };
  before(async () => (scratch = await tempDir("watcher")));
  after(async () => scratch.remove());

  it("watches a folder with one watch per directory, not per file, and reports a burst of writes", async () => {
    const root = join(scratch.path, "many");
    for (let d = 0; d < 20; d += 1) {
      await mkdir(join(root, `d${d}`), { recursive: true });
      await Promise.all(Array.from({ length: 50 }, (_, f) => writeFile(join(root, `d${d}`, `f${f}.txt`), "x")));
    }
    const before = await inotifyWatches();
    const bursts: string[][] = [];
    const watcher = watchFolder(root, (paths) => bursts.push(paths), { debounceMs: 50 });
    try {
      await watcher.ready;
      const watches = (await inotifyWatches()) - before;
      // 21 directories (the top and 20 below) and 1,000 files: a watch per directory (the `.git` rule may add none).
      assert.ok(watches >= 21 && watches <= 22, `${watches} inotify watches for 21 directories and 1,000 files`);
      await writeFile(join(root, "d3", "new.txt"), "y");
      for (let i = 0; i < 100 && bursts.length === 0; i += 1) await new Promise((r) => setTimeout(r, 20));
      assert.deepEqual(bursts.flat(), ["d3/new.txt"]);
    } finally {
      await watcher.close();
    }
  });

  it("tells its caller when it fails to start or fails later, never silently", async () => {
    const root = join(scratch.path, "failing");
    await mkdir(root, { recursive: true });
    const atStart: Subscribe = () => Promise.reject(new Error(`inotify_add_watch on '${root}/a' failed: No space left on device`));
    const errors: Error[] = [];
    const first = watchFolder(root, () => undefined, { onError: (e) => errors.push(e), subscribe: atStart });
    await first.ready;
    assert.equal(errors.length, 1);
    assert.match(watcherTrouble(errors[0], { maxUserWatches: 8192 }), /fs\.inotify\.max_user_watches = 8192\) is reached/);

    let deliver!: (error: Error | null) => void;
    const later: Subscribe = (_dir, callback) => {
      deliver = (error) => callback(error, []);
      return Promise.resolve({ unsubscribe: () => Promise.resolve() });
    };
    const second = watchFolder(root, () => undefined, { onError: (e) => errors.push(e), subscribe: later });
    await second.ready;
    deliver(new Error("read failed"));
    assert.equal(errors.length, 2);
    assert.equal(watcherTrouble(errors[1]), "the folder watcher failed: read failed");
    await first.close();
    await second.close();
  });
});
