import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { recordWantedOnce } from "../../../../agent/folder/wanted-recorded.ts";
import { AnnexBranch } from "../../../../annex/logs/annex-branch.ts";
import { PREFERRED_CONTENT_LOG } from "../../../../annex/logs/preferred-content.ts";
import { parseUuidLog } from "../../../../annex/logs/uuid-log.ts";

const ME = "11111111-1111-4111-8111-111111111111";
const OTHER = "22222222-2222-4222-8222-222222222222";

/**
 * What a machine wants is in the git-annex branch after every open of its folder, whatever changed the log
 * since (another machine's line, git-annex's `wanted` run by hand, the folder's setting), while an open of
 * a folder whose branch did not move reads nothing of it (the note says the log said so at that commit).
 */
describe("this machine's wish in the git-annex branch (recordWantedOnce)", () => {
  const root = mkdtempSync(join(tmpdir(), "wanted-recorded-"));
  after(() => rmSync(root, { recursive: true, force: true }));
  const gitDir = join(root, "repo.git");
  execFileSync("git", ["init", "-q", "--bare", gitDir]);
  const branch = new AnnexBranch(gitDir);
  const wanted = async (uuid = ME) => parseUuidLog((await branch.read(PREFERRED_CONTENT_LOG)) ?? "").get(uuid)?.description;

  it("records it, then leaves an unmoved branch unread, and records it again wherever the log was changed since", async () => {
    await recordWantedOnce(branch, root, ME, "anything");
    assert.equal(await wanted(), "anything");
    const head = await branch.head();
    const note = join(root, "wanted-recorded");
    assert.equal(await readFile(note, "utf8"), `${head} ${ME} anything\n`);

    // The branch did not move: the log is not read (a branch whose objects are gone would fail a read).
    const unreadable = new AnnexBranch(gitDir);
    unreadable.readMany = () => Promise.reject(new Error("the log was read"));
    await recordWantedOnce(unreadable, root, ME, "anything");
    // The setting changed: recorded, though the branch did not move.
    await recordWantedOnce(branch, root, ME, "nothing");
    assert.equal(await wanted(), "nothing");

    // git-annex's `wanted` run by hand says otherwise, at a new commit: the folder's wish is recorded again.
    await branch.change("by hand", new Map([[PREFERRED_CONTENT_LOG, () => `${ME} anything timestamp=9999999999s\n`]]));
    await recordWantedOnce(branch, root, ME, "nothing");
    assert.equal(await wanted(), "nothing");
    // Another machine's line merged in: its own stays, and so does this one's.
    await branch.change("theirs", new Map([[PREFERRED_CONTENT_LOG, (old) => `${old ?? ""}${OTHER} anything timestamp=1s\n`]]));
    await recordWantedOnce(branch, root, ME, "nothing");
    assert.deepEqual([await wanted(), await wanted(OTHER)], ["nothing", "anything"]);

    // A damaged note, or one of another machine's id, is no shortcut.
    await writeFile(note, "garbage");
    await assert.rejects(recordWantedOnce(unreadable, root, ME, "nothing"), /the log was read/);
    await recordWantedOnce(branch, root, ME, "nothing");
    await recordWantedOnce(unreadable, root, ME, "nothing");
    await assert.rejects(recordWantedOnce(unreadable, root, OTHER, "nothing"), /the log was read/);
  });
});
