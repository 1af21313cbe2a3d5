import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { mkdir, readdir, readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { LocalStore } from "../../../../annex/content/local-store.ts";
import { tempDir } from "../../../helpers/git.ts";

describe("the local object store", () => {
  let scratch: { path: string; remove(): Promise<void> };
  before(async () => {
    scratch = await tempDir("local-store");
  });
  after(async () => scratch.remove());

  it("adds a file under its SHA256E key: the same bytes, read-only, the file untouched, nothing left in tmp", async () => {
    const gitDir = join(scratch.path, ".git");
    await mkdir(gitDir, { recursive: true });
    const store = new LocalStore(gitDir);
    const file = join(scratch.path, "video.mp4");
    const bytes = randomBytes(3 * 1024 * 1024 + 17); // more than one read buffer, not a whole number of them
    await writeFile(file, bytes);
    const before = await stat(file);
    const key = await store.ingest(file);
    assert.equal(key, `SHA256E-s${bytes.length}--${createHash("sha256").update(bytes).digest("hex")}.mp4`);
    assert.ok((await readFile(store.objectPath(key))).equals(bytes));
    assert.equal((await stat(store.objectPath(key))).mode & 0o777, 0o444);
    const afterwards = await stat(file);
    assert.equal(afterwards.mtimeMs, before.mtimeMs);
    assert.equal(afterwards.ino, before.ino, "the file stays where it is");
    // Again: the content is there already, the second copy goes.
    assert.equal(await store.ingest(file), key);
    assert.deepEqual(await readdir(store.tmpDir), []);
  });
});
