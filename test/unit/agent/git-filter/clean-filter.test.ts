import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { appendFile, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { registerCleanFilter } from "../../../../agent/git-filter/register.ts";
import { git, tempDir } from "../../../helpers/git.ts";

/**
 * The clean filter through real git: `git add` / `git status` start it once (the long-running protocol)
 * and it stores what the agent's scan would commit: a large file's SHA256E pointer, anything else as is.
 */
describe("the clean filter git runs in a synced folder", () => {
  let scratch: { path: string; remove(): Promise<void> };
  before(async () => {
    scratch = await tempDir("clean-filter");
  });
  after(() => scratch.remove());

  async function folder(name: string): Promise<string> {
    const dir = join(scratch.path, name);
    await git(scratch.path, "init", "--quiet", "--initial-branch=main", dir);
    await registerCleanFilter(join(dir, ".git"));
    return dir;
  }

  const stored = async (dir: string, path: string) => git(dir, "cat-file", "-p", `:${path}`);

  it("stores a large file as the pointer to its SHA256E key and small files, dotfiles and excluded files as they are", async () => {
    const dir = await folder("rule");
    await git(dir, "config", "cloudbridge.largefiles.minsize", "100k");
    await git(dir, "config", "--add", "cloudbridge.largefiles.exclude", "*.keep");
    await git(dir, "config", "--add", "cloudbridge.largefiles.include", "*.raw");
    // Over many pkt-lines (64 KiB each), and beside many small files in the same filter process.
    const big = randomBytes(300 * 1024 + 7);
    await writeFile(join(dir, "photo.jpg"), big);
    await writeFile(join(dir, "big.keep"), big);
    await writeFile(join(dir, ".hidden"), big);
    await writeFile(join(dir, "tiny.raw"), "abc");
    for (let i = 0; i < 50; i++) await writeFile(join(dir, `small-${i}.txt`), `file ${i}\n`);
    await git(dir, "add", "-A");
    const sha = createHash("sha256").update(big).digest("hex");
    assert.equal(await stored(dir, "photo.jpg"), `/annex/objects/SHA256E-s${big.length}--${sha}.jpg`);
    assert.equal(await stored(dir, "tiny.raw"), `/annex/objects/SHA256E-s3--${createHash("sha256").update("abc").digest("hex")}.raw`);
    assert.equal(
      await git(dir, "rev-parse", ":big.keep"),
      await git(dir, "hash-object", "--no-filters", "big.keep"),
      "an excluded file is stored as it is",
    );
    assert.equal(await git(dir, "rev-parse", ":.hidden"), await git(dir, "hash-object", "--no-filters", ".hidden"));
    assert.equal(await stored(dir, "small-7.txt"), "file 7");
  });

  it("stores a pointer file renamed to a name the rule annexes as that pointer, not as new content made of its text", async () => {
    const dir = await folder("renamed-pointer");
    await git(dir, "config", "--add", "cloudbridge.largefiles.include", "*.raw");
    const key = `SHA256E-s5000000--${createHash("sha256").update("the content, elsewhere").digest("hex")}.raw`;
    await writeFile(join(dir, "renamed.raw"), `/annex/objects/${key}\n`);
    await git(dir, "add", "renamed.raw");
    assert.equal(await stored(dir, "renamed.raw"), `/annex/objects/${key}`);
  });

  it("git status is clean for an annexed file whose index entry is its pointer, and shows it modified once it changes", async () => {
    const dir = await folder("status");
    const big = randomBytes(2 * 1024 * 1024);
    await writeFile(join(dir, "video.mp4"), big);
    await writeFile(join(dir, "notes.txt"), "notes\n");
    const key = `SHA256E-s${big.length}--${createHash("sha256").update(big).digest("hex")}.mp4`;
    // The index as the agent leaves it: the pointer blob, with no stat information (read-tree).
    await writeFile(join(scratch.path, "pointer"), `/annex/objects/${key}\n`);
    const blob = await git(dir, "hash-object", "-w", "--no-filters", join(scratch.path, "pointer"));
    const notes = await git(dir, "hash-object", "-w", "--no-filters", "notes.txt");
    await git(dir, "update-index", "--add", "--cacheinfo", `100644,${blob},video.mp4`);
    await git(dir, "update-index", "--add", "--cacheinfo", `100644,${notes},notes.txt`);
    await git(dir, "commit", "--quiet", "-m", "first");
    await git(dir, "read-tree", "HEAD");
    assert.equal(await git(dir, "status", "--porcelain"), "");
    await appendFile(join(dir, "video.mp4"), "more");
    await writeFile(join(dir, "notes.txt"), "changed\n");
    assert.equal(await git(dir, "status", "--porcelain"), "M notes.txt\n M video.mp4");
    assert.equal(await readFile(join(dir, ".git", "info", "attributes"), "utf8"), "* filter=cloudbridge\n");
  });

  it("keeps a file annexed elsewhere annexed while it is its key's size, whatever this folder's smaller rule: git status clean, git add stores its pointer", async () => {
    const dir = await folder("annexed-elsewhere");
    // This folder's rule keeps 8 KiB files in git; another machine's annexed this one.
    const content = randomBytes(8192);
    const key = `SHA256E-s${content.length}--${createHash("sha256").update(content).digest("hex")}.bin`;
    await writeFile(join(dir, "report.bin"), content);
    await writeFile(join(scratch.path, "annexed-pointer"), `/annex/objects/${key}\n`);
    const blob = await git(dir, "hash-object", "-w", "--no-filters", join(scratch.path, "annexed-pointer"));
    await git(dir, "update-index", "--add", "--cacheinfo", `100644,${blob},report.bin`);
    await git(dir, "commit", "--quiet", "-m", "annexed on another machine");
    await git(dir, "read-tree", "HEAD");
    assert.equal(await git(dir, "status", "--porcelain"), "");
    await git(dir, "add", "report.bin");
    assert.equal(await stored(dir, "report.bin"), `/annex/objects/${key}`);
    // Edited at the same size: still annexed, as a new key; at another size, the rule decides (git).
    const edited = randomBytes(8192);
    await writeFile(join(dir, "report.bin"), edited);
    await git(dir, "add", "report.bin");
    assert.equal(await stored(dir, "report.bin"), `/annex/objects/SHA256E-s8192--${createHash("sha256").update(edited).digest("hex")}.bin`);
    await writeFile(join(dir, "report.bin"), "now small\n");
    await git(dir, "add", "report.bin");
    assert.equal(await stored(dir, "report.bin"), "now small");
  });

  it("is registered once: a second registration changes nothing, and keeps what info/attributes held", async () => {
    const dir = await folder("again");
    await writeFile(join(dir, ".git", "info", "attributes"), "*.psd binary");
    await registerCleanFilter(join(dir, ".git"));
    await registerCleanFilter(join(dir, ".git"));
    assert.equal(await readFile(join(dir, ".git", "info", "attributes"), "utf8"), "*.psd binary\n* filter=cloudbridge\n");
    assert.equal((await git(dir, "config", "--get-all", "filter.cloudbridge.process")).split("\n").length, 1);
  });
});
