import assert from "node:assert/strict";
import { mkdir, open, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { FolderIgnore } from "../../../../agent/sync/ignore-rules.ts";
import { LocalRepo } from "../../../../agent/sync/local-repo.ts";
import { scan } from "../../../../agent/sync/scanner.ts";
import { openForWriting, writersClosed, writersOf } from "../../../../agent/sync/open-files.ts";
import { roundSummary } from "../../../../agent/sync/round-summary.ts";
import { tempDir } from "../../../helpers/git.ts";

describe("what a scan leaves out and waits for, and how a round is said", () => {
  let scratch: { path: string; remove(): Promise<void> };
  before(async () => {
    scratch = await tempDir("ignore-rules");
  });
  after(async () => scratch.remove());

  it("reads .gitignore and .cloudbridgeignore at every level, the deeper and .cloudbridgeignore winning, over the defaults", async () => {
    const root = join(scratch.path, "folder");
    await mkdir(join(root, "sub", "deep"), { recursive: true });
    await writeFile(join(root, ".gitignore"), "secret.env\nbuild/\n*.log\n");
    await writeFile(join(root, ".cloudbridgeignore"), "!keep.log\n!.DS_Store\n");
    await writeFile(join(root, "sub", ".gitignore"), "!sub.log\nlocal/\n");
    await writeFile(join(root, "sub", ".cloudbridgeignore"), "*.tmp\n");
    const rules = new FolderIgnore(root);
    const ignored = (path: string, dir = false) => rules.ignores(path, dir);
    assert.equal(ignored("secret.env"), true, ".gitignore");
    assert.equal(ignored("sub/secret.env"), true, "a pattern without a slash matches at any depth");
    assert.equal(ignored("build", true), true);
    assert.equal(ignored("build/out.o"), true, "below an ignored folder");
    assert.equal(ignored("a.log"), true);
    assert.equal(ignored("keep.log"), false, ".cloudbridgeignore takes back what .gitignore names");
    assert.equal(ignored("sub/sub.log"), false, "a deeper .gitignore takes back what a shallower one names");
    assert.equal(ignored("sub/x.tmp"), true);
    assert.equal(ignored("x.tmp"), false, "a rule applies below its own folder only");
    assert.equal(ignored("sub/local/a.txt"), true);
    assert.equal(ignored("local/a.txt"), false);
    assert.equal(ignored(".DS_Store"), false, "a default taken back");
    assert.equal(ignored("sub/Thumbs.db"), true, "defaults");
    assert.equal(ignored("notes.txt.swp"), true);
    assert.equal(ignored("notes.txt~"), true);
    assert.equal(ignored(".#notes.txt"), true);
    assert.equal(ignored("notes.txt"), false);
    // A changed rule counts once the rules are read again.
    await writeFile(join(root, ".cloudbridgeignore"), "notes.txt\n");
    assert.equal(ignored("notes.txt"), false);
    rules.reset();
    assert.equal(ignored("notes.txt"), true);
  });

  it("knows which files a process has open for writing (Linux: /proc), and which it only reads", async () => {
    const written = join(scratch.path, "being-written.bin");
    const read = join(scratch.path, "being-read.bin");
    await writeFile(read, "x");
    const writer = await open(written, "w");
    const reader = await open(read, "r");
    try {
      assert.deepEqual(await openForWriting([written, read]), new Set([written]));
    } finally {
      await writer.close();
      await reader.close();
    }
    assert.deepEqual(await openForWriting([written, read]), new Set());
  });

  it("finds the descriptors that hold a file open for writing, and sees each one closed", async () => {
    const written = join(scratch.path, "held.bin");
    const writer = await open(written, "w");
    let closed = false;
    try {
      const writers = (await writersOf([written]))!.get(written);
      assert.ok(writers && writers.length === 1 && writers[0]!.pid === String(process.pid), "this process holds it");
      assert.equal(await writersClosed(written, writers, 50), false, "still open: not closed within the window");
      const seen = writersClosed(written, writers, 60_000);
      await writer.close();
      closed = true;
      assert.equal(await seen, true, "seen closed once the writer closed it");
    } finally {
      if (!closed) await writer.close();
    }
  });

  it("commits a file its writer has closed at once, however young, and waits for one still open for writing", async () => {
    const root = join(scratch.path, "settle");
    await mkdir(root);
    await LocalRepo.create(root);
    const repo = await new LocalRepo(root).open();
    await writeFile(join(root, "saved.txt"), "saved a moment ago\n");
    const writer = await open(join(root, "downloading.bin"), "w");
    try {
      await writer.write("the first part\n");
      const settle = { quietMs: 5000, maxWaitMs: 60_000, waitingSince: new Map<string, number>(), openForWriting };
      const result = await scan(root, repo.cache, repo.git, undefined, { paths: ["saved.txt", "downloading.bin"], settle });
      assert.deepEqual([...result.changes.keys()], ["saved.txt"], "the closed file goes at once");
      assert.deepEqual(
        result.settling.map((s) => s.path),
        ["downloading.bin"],
      );
      assert.ok(result.settling[0]!.dueInMs > 1000, "the open file is looked at again once it may have settled");
    } finally {
      await writer.close();
    }
  });

  it("says a round in files", () => {
    const base = { sent: 0, written: 0, deleted: 0, merged: false, variants: [], examples: { sent: [], received: [] } };
    assert.equal(roundSummary({ ...base, sent: 1, examples: { sent: ["a.txt"], received: [] } }), "sent 1 file (a.txt)");
    assert.equal(
      roundSummary({ ...base, written: 4998, deleted: 2, examples: { sent: [], received: ["d/1", "d/2", "d/3", "d/4", "d/5"] } }),
      "received 5,000 files, 2 of them removed, from the other machines (d/1, d/2, d/3, d/4, d/5 and 4,995 more)",
    );
    assert.equal(
      roundSummary({ ...base, merged: true, variants: [{ path: "n.txt", variant: "n.variant-ab12.txt" }] as never }),
      "edited on two machines, both versions kept: n.txt and n.variant-ab12.txt",
    );
  });
});
