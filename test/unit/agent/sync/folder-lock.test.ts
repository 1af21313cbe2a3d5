import assert from "node:assert/strict";
import { readFile, utimes, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { FolderLock } from "../../../../agent/sync/folder-lock.ts";
import { exists } from "../../../helpers/folders.ts";
import { tempDir } from "../../../helpers/git.ts";
import { deadPid, withFullDisk } from "../../../helpers/system.ts";

describe("the folder lock", () => {
  let scratch: { path: string; remove(): Promise<void> };
  before(async () => {
    scratch = await tempDir("folder-lock");
  });
  after(() => scratch.remove());

  it("is shared within a process, exclusive between processes, and re-read on every fresh acquisition", async () => {
    const file = join(scratch.path, "shared.pid");
    let acquisitions = 0;
    const lock = new FolderLock(file, { onAcquired: async () => void acquisitions++ });
    const order: string[] = [];
    await Promise.all([
      lock.hold(async () => {
        order.push("a in");
        await sleep(30);
        order.push("a out");
      }),
      lock.hold(async () => {
        order.push("b in");
        await sleep(10);
        order.push("b out");
      }),
    ]);
    assert.deepEqual(order, ["a in", "b in", "b out", "a out"], "two holders of one process run together");
    assert.equal(acquisitions, 1);
    assert.equal(await exists(file), false, "released once the last holder left");
    await lock.hold(async () => assert.equal((await readFile(file, "utf8")).trim(), String(process.pid)));
    assert.equal(acquisitions, 2);
  });

  it("waits for a live owner and takes over from a dead one", async () => {
    const file = join(scratch.path, "other.pid");
    // Another live process holds it (this test's parent stands in for one: any live pid but ours).
    await writeFile(file, `${process.ppid}\n`);
    const waitedFor: number[] = [];
    const lock = new FolderLock(file, { onWait: (owner) => waitedFor.push(owner) });
    let got = false;
    const holding = lock.hold(async () => void (got = true));
    await sleep(100);
    assert.equal(got, false, "a live owner's lock is respected");
    assert.deepEqual(waitedFor, [process.ppid]);
    // The owner dies (kill -9): its lock is taken over.
    await writeFile(file, `${await deadPid()}\n`);
    await holding;
    assert.equal(got, true);

    let tookOver: boolean | undefined;
    await writeFile(file, `${await deadPid()}\n`);
    await new FolderLock(file, { onAcquired: async (dead) => void (tookOver = dead) }).hold(async () => undefined);
    assert.equal(tookOver, true, "the new owner learns that it took over (and cleans what the dead one left)");
  });

  it("takes over a lock file a process was killed in before it wrote its pid (and such a breaker), and waits on one being written", async () => {
    const file = join(scratch.path, "unwritten.pid");
    const longAgo = new Date(Date.now() - 60_000);
    // Created (O_EXCL) by a process killed before its pid went in: it names no one, and no one would take it over.
    await writeFile(file, "");
    await utimes(file, longAgo, longAgo);
    let got = false;
    await new FolderLock(file).hold(async () => void (got = true));
    assert.equal(got, true, "an empty lock file left long ago does not stop the folder");
    // The same for the breaker a waiter takes to remove a dead owner's lock.
    await writeFile(file, `${await deadPid()}\n`);
    await writeFile(`${file}.break`, "");
    await utimes(`${file}.break`, longAgo, longAgo);
    got = false;
    await new FolderLock(file).hold(async () => void (got = true));
    assert.equal(got, true, "an empty breaker left long ago does not stop the take-over");
    assert.equal(await exists(`${file}.break`), false);
    // A file just created, its pid not written yet: its writer is alive, and is waited for.
    await writeFile(file, "");
    got = false;
    const holding = new FolderLock(file).hold(async () => void (got = true));
    await sleep(200);
    assert.equal(got, false, "a lock file being written is not taken");
    await writeFile(file, `${await deadPid()}\n`);
    await holding;
    assert.equal(got, true);
  });

  it("on a full disk fails with the disk's error and leaves no empty lock file behind to wait on", async () => {
    const small = join(scratch.path, "full");
    await withFullDisk(small, async (free) => {
      const lock = new FolderLock(join(small, "folder-lock.pid"));
      await assert.rejects(
        lock.hold(async () => "ran"),
        (error: NodeJS.ErrnoException) => error.code === "ENOSPC",
      );
      assert.equal(await exists(join(small, "folder-lock.pid")), false);
      await free();
      assert.equal(await lock.hold(async () => "ran"), "ran", "taken at once when there is space again");
    });
  });
});
