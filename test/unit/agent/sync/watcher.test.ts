import assert from "node:assert/strict";
import { mkdir, readdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { inotifyWatches } from "../../../helpers/system.ts";
import { watchFolder, watcherTrouble, type Subscribe } from "../../../../agent/sync/watcher.ts";
import { tempDir } from "../../../helpers/git.ts";

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

  it("hands over, once it has seen every event up to the call, the paths it still holds back; vouches for nothing it cannot", async () => {
    const root = join(scratch.path, "caught-up");
    const fenceDir = join(root, ".git", "cloudbridge");
    await mkdir(fenceDir, { recursive: true });
    await mkdir(join(root, "sub"), { recursive: true });
    const bursts: string[][] = [];
    const watcher = watchFolder(root, (paths) => bursts.push(paths), { debounceMs: 600_000, fenceDir });
    const unfenced = watchFolder(root, () => undefined, { debounceMs: 600_000 });
    try {
      await Promise.all([watcher.ready, unfenced.ready]);
      assert.equal(await watcher.caughtUp(), undefined, "no scan of the whole folder yet: it cannot say what happened before");
      watcher.wholeFolderScanned();
      unfenced.wholeFolderScanned();
      assert.deepEqual(await watcher.caughtUp(), []);
      assert.equal(await unfenced.caughtUp(), undefined, "without a fence it cannot vouch");
      // The first write is reported at once; what follows within the debounce is held back for 10 minutes.
      await writeFile(join(root, "first.txt"), "a");
      for (let i = 0; i < 100 && bursts.length === 0; i += 1) await new Promise((r) => setTimeout(r, 20));
      assert.deepEqual(bursts, [["first.txt"]]);
      // Asked right after the writes, with no wait for their events.
      await writeFile(join(root, "sub", "second.txt"), "b");
      await writeFile(join(root, "first.txt"), "changed");
      assert.deepEqual((await watcher.caughtUp())?.sort(), ["first.txt", "sub/second.txt"]);
      assert.deepEqual(await watcher.caughtUp(), [], "handed over once, not reported again");
      assert.deepEqual(bursts, [["first.txt"]]);
      assert.deepEqual(await readdir(fenceDir), [], "the fence files are removed");
    } finally {
      await watcher.close();
      await unfenced.close();
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

/** Collects what the watcher reports, with when each burst came (ms since `start`). */
function recorder() {
  const bursts: Array<{ at: number; paths: string[] }> = [];
  let start = performance.now();
  return {
    bursts,
    restart: () => {
      bursts.length = 0;
      start = performance.now();
    },
    onBurst: (paths: string[]) => bursts.push({ at: performance.now() - start, paths: paths.sort() }),
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(check: () => boolean, what: string, ms = 10_000): Promise<void> {
  const deadline = performance.now() + ms;
  while (!check()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

describe("the folder watcher's adaptive debounce", () => {
  let scratch: { path: string; remove(): Promise<void> };
  before(async () => {
    scratch = await tempDir("watcher");
  });
  after(async () => scratch.remove());

  it("reports a single write into a quiet folder at once, without waiting for the debounce", async () => {
    const root = join(scratch.path, "single");
    await mkdir(root);
    const seen = recorder();
    // A debounce far longer than the watcher's own delivery: a report before it shows nothing waited for it.
    const watcher = watchFolder(root, seen.onBurst, { debounceMs: 3000 });
    await watcher.ready;
    try {
      seen.restart();
      await writeFile(join(root, "note.txt"), "hello\n");
      await until(() => seen.bursts.length > 0, "the write to be reported");
      assert.deepEqual(seen.bursts[0]!.paths, ["note.txt"]);
      assert.ok(seen.bursts[0]!.at < 1000, `reported after ${Math.round(seen.bursts[0]!.at)} ms, with a 3000 ms debounce`);
    } finally {
      await watcher.close();
    }
  });

  it("gathers what comes after a report until the debounce has passed: a long burst is a few reports, each with many files", async () => {
    const root = join(scratch.path, "burst");
    await mkdir(root);
    const seen = recorder();
    const watcher = watchFolder(root, seen.onBurst, { debounceMs: 400 });
    await watcher.ready;
    try {
      seen.restart();
      // 60 files, one every 20 ms (1.2 s or more): never quiet.
      const started = performance.now();
      for (let i = 0; i < 60; i++) {
        await writeFile(join(root, `f${String(i).padStart(2, "0")}.txt`), `${i}\n`);
        await sleep(20);
      }
      const writing = performance.now() - started;
      const files = () => new Set(seen.bursts.flatMap((b) => b.paths));
      await until(() => files().size === 60, "all 60 files");
      await sleep(600); // nothing more may come
      const shape = JSON.stringify(seen.bursts.map((b) => [Math.round(b.at), b.paths.length]));
      // At most one report per debounce while the writes went on (a loaded machine writes slower), and the last.
      const most = Math.ceil(writing / 400) + 2;
      assert.ok(
        seen.bursts.length >= 2 && seen.bursts.length <= most,
        `60 writes in ${Math.round(writing)} ms came in ${seen.bursts.length} reports: ${shape}`,
      );
      for (let i = 1; i < seen.bursts.length; i++)
        assert.ok(seen.bursts[i]!.at - seen.bursts[i - 1]!.at >= 380, `two reports closer than the debounce: ${shape}`);
    } finally {
      await watcher.close();
    }
  });

  it("reports at once again once the debounce has passed since the last report", async () => {
    const root = join(scratch.path, "again");
    await mkdir(root);
    const seen = recorder();
    const watcher = watchFolder(root, seen.onBurst, { debounceMs: 1500 });
    await watcher.ready;
    try {
      await writeFile(join(root, "a.txt"), "a\n");
      await until(() => seen.bursts.length > 0, "the first write");
      // Until the debounce has passed since the last report (the write's later events may make a second one).
      for (let count = -1; count !== seen.bursts.length;) {
        count = seen.bursts.length;
        await sleep(1700);
      }
      seen.restart();
      await writeFile(join(root, "b.txt"), "b\n");
      await until(() => seen.bursts.length > 0, "the second write");
      assert.deepEqual(seen.bursts[0]!.paths, ["b.txt"]);
      assert.ok(seen.bursts[0]!.at < 1000, `reported after ${Math.round(seen.bursts[0]!.at)} ms, with a 1500 ms debounce`);
    } finally {
      await watcher.close();
    }
  });
});
