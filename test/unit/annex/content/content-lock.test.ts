import assert from "node:assert/strict";
import { mkdir, readdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, it } from "node:test";
import { withContentLock } from "../../../../annex/content/content-lock.ts";
import { deadPid, withFullDisk } from "../../../helpers/system.ts";
import { useTempDir } from "../../../helpers/test-bed.ts";

const KEY = `SHA256E-s5--${"ab".repeat(32)}.txt`;

/**
 * The content lock (one key, one process at a time, for drop and its safety checks): a killed owner's lock
 * is taken over, a live owner's is waited for and then refused with a clear error, and a full disk leaves
 * no lock file behind that every later drop of the key would wait on.
 */
describe("the annex content lock", () => {
  const scratch = useTempDir("content-lock");
  const lockFile = (gitDir: string) => join(gitDir, "annex", "cloudbridge", "locks", `${KEY}.lck`);

  it("takes over a dead owner's lock, waits for a live one and then says who holds it", async () => {
    const gitDir = join(scratch.path, "a");
    await mkdir(join(gitDir, "annex", "cloudbridge", "locks"), { recursive: true });
    await writeFile(lockFile(gitDir), `${await deadPid()}\n`);
    assert.equal(await withContentLock(gitDir, KEY, async () => "ran"), "ran");
    assert.deepEqual(await readdir(join(gitDir, "annex", "cloudbridge", "locks")), [], "released");

    // A live owner (this test's parent stands in for one).
    await writeFile(lockFile(gitDir), `${process.ppid}\n`);
    await assert.rejects(
      withContentLock(gitDir, KEY, async () => "ran", 200),
      (error: Error) => error.message.includes(`(pid ${process.ppid}) is working on ${KEY}`),
    );
  });

  it("on a full disk fails with the disk's error and leaves no empty lock file behind", async () => {
    const gitDir = join(scratch.path, "full");
    await mkdir(join(gitDir, "annex", "cloudbridge", "locks"), { recursive: true });
    await withFullDisk(join(gitDir, "annex", "cloudbridge", "locks"), async (free) => {
      await assert.rejects(
        withContentLock(gitDir, KEY, async () => "ran", 200),
        (error: NodeJS.ErrnoException) => error.code === "ENOSPC",
      );
      assert.deepEqual(await readdir(join(gitDir, "annex", "cloudbridge", "locks")), ["filler"], "no lock file left");
      await free();
      assert.equal(await withContentLock(gitDir, KEY, async () => "ran", 200), "ran", "taken at once when there is space again");
    });
  });
});
