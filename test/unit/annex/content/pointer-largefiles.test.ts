import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { formatPointer, parsePointer, parseSymlinkTarget } from "../../../../annex/content/pointer.ts";
import { isLargeFile, largeFilesRuleFrom, parseSize } from "../../../../annex/content/largefiles.ts";

const KEY = `SHA256E-s3--${"ab".repeat(32)}.txt`;

describe("pointer files", () => {
  it("writes and reads unlocked pointers and locked symlink targets", () => {
    assert.equal(formatPointer(KEY), `/annex/objects/${KEY}\n`);
    assert.equal(parsePointer(formatPointer(KEY)), KEY);
    assert.equal(parsePointer(Buffer.from(`/annex/objects/${KEY}`)), KEY);
    assert.equal(parsePointer("hello\n"), undefined);
    assert.equal(parsePointer("/annex/objects/not a key\n"), undefined);
    assert.equal(parsePointer(`/annex/objects/${KEY}\n${"x".repeat(40000)}`), undefined, "large blobs are content");
    assert.equal(parseSymlinkTarget(`../../.git/annex/objects/k0/8x/${KEY}/${KEY}`), KEY);
    assert.equal(parseSymlinkTarget("../elsewhere/file"), undefined);
  });
});

describe("which files are annexed", () => {
  it("size threshold, dotfiles in git, include and exclude globs", () => {
    const rule = largeFilesRuleFrom({ minsize: "1m", include: ["**/*.psd"], exclude: ["docs/**"] });
    assert.equal(isLargeFile("video.mp4", 5 * 1024 * 1024, rule), true);
    assert.equal(isLargeFile("notes.txt", 2000, rule), false);
    assert.equal(isLargeFile(".env", 5 * 1024 * 1024, rule), false);
    assert.equal(isLargeFile(".cache/blob", 5 * 1024 * 1024, rule), false);
    assert.equal(isLargeFile("art/cover.psd", 10, rule), true);
    assert.equal(isLargeFile("docs/manual.pdf", 5 * 1024 * 1024, rule), false);
    assert.equal(parseSize("10m"), 10 * 1024 * 1024);
    assert.equal(parseSize("512KiB"), 512 * 1024);
    assert.throws(() => parseSize("big"), /not a size/);
  });
});
