import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, symlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { eachFolderOnce } from "../../../../agent/cli/commands/daemon.ts";

/** `cloudbridge daemon DIR…`: each folder is served once, however it was named. */
describe("the daemon's folders", () => {
  let scratch: string;
  before(async () => {
    scratch = await mkdtemp(join(tmpdir(), "daemon-folders-"));
    // What makes a directory a cloudbridge folder (agent/folder/find.ts): its `.git/cloudbridge`.
    for (const name of ["a", "b"]) await mkdir(join(scratch, name, ".git", "cloudbridge"), { recursive: true });
    await mkdir(join(scratch, "a", "sub"));
    await symlink(join(scratch, "a"), join(scratch, "link-to-a"));
  });
  after(() => rm(scratch, { recursive: true, force: true }));

  it("names a folder once when it is given as itself, with a slash, by a subfolder or through a symlink", async () => {
    const a = join(scratch, "a");
    const b = join(scratch, "b");
    assert.deepEqual(await eachFolderOnce([a, `${a}/`, join(a, "sub"), join(scratch, "link-to-a"), b, a]), [a, b]);
  });

  it("keeps a directory that is no folder as it was named, for the daemon to refuse it by name", async () => {
    const plain = join(scratch, "not-a-folder");
    assert.deepEqual(await eachFolderOnce([plain]), [plain]);
  });
});
