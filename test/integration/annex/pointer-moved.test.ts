import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, it } from "node:test";
import { useAgentPair } from "../../helpers/test-bed.ts";
import { type AgentRepo } from "../../helpers/annex-repos.ts";
import { AnnexContent, placeAtPointers } from "../../../agent/sync/annex-content.ts";
import { SyncEngine } from "../../../agent/sync/engine.ts";
import { LocalRepo } from "../../../agent/sync/local-repo.ts";
import { BareRepoRemote } from "../../../agent/sync/remote.ts";
import { TransferQueue } from "../../../agent/sync/transfer-queue.ts";
import type { LargeFilesRule } from "../../../annex/index.ts";

/**
 * An annexed file whose content is still on its way can be moved by the person meanwhile: its pointer file
 * goes with the move. The download then finds no pointer where its job said, and the moved pointer is only
 * committed later, by the round the move asked for. That file must still get its content, from that round,
 * not only from a round over the whole folder (the daemon runs one every ten minutes).
 */
describe("a pointer file moved while its content downloads", () => {
  const pair = useAgentPair("moved-pointer");

  /** An agent's folder as the daemon runs it: its engine, its content, git history through a bare repository. */
  async function agent(
    repo: AgentRepo,
    bare: string,
    name: string,
    largefiles: LargeFilesRule = { minSize: 1024, include: [], exclude: [] },
  ) {
    await LocalRepo.create(repo.dir);
    const local = await new LocalRepo(repo.dir, { name, email: `${name}@test` }).open();
    const content: AnnexContent = new AnnexContent(repo.annex, new TransferQueue(local.stateDir), {
      largefiles,
      wanted: "everything",
      place: async (path, key) => void (await placeAtPointers(local, content, path, key)),
    });
    return {
      root: repo.dir,
      local,
      content,
      engine: new SyncEngine(local, new BareRepoRemote(local.git, bare), { annex: content, content }),
    };
  }

  it("gets its content from the round that commits the move", async () => {
    const bare = join(pair.root, "history.git");
    execFileSync("git", ["init", "--quiet", "--bare", "--initial-branch=main", bare]);
    const a = await agent(pair.a, bare, "a");
    const b = await agent(pair.b, bare, "b");
    const bytes = randomBytes(8 * 1024);
    await mkdir(join(a.root, "d"));
    await writeFile(join(a.root, "d/x.bin"), bytes);
    assert.ok((await a.engine.sync()).committed);

    // B takes the commit: a pointer file, its download queued (the daemon would start it beside the round).
    await b.engine.sync();
    const pointer = await readFile(join(b.root, "d/x.bin"), "utf8");
    assert.match(pointer, /^\/annex\/objects\/SHA256E-s8192--/);
    // The person moves the folder; the content arrives before the round that commits the move.
    await rename(join(b.root, "d"), join(b.root, "moved"));
    assert.equal(await b.content.download(), 0);
    assert.equal(await readFile(join(b.root, "moved/x.bin"), "utf8"), pointer, "the content found no pointer at the path its job named");

    // The round the watcher asks for (the paths it saw change), then the downloads the daemon runs after each round.
    const round = await b.engine.sync(["d", "moved"]);
    assert.ok(round.committed, "the move is committed");
    await b.content.download();
    assert.ok((await readFile(join(b.root, "moved/x.bin"))).equals(bytes), "the moved file holds its content");
  });

  it("keeps a moved pointer pointing at its key when the folder's rule annexes its new name, on both machines", async () => {
    // Every *.bin is annexed whatever its size: the pointer file at the new path matches the rule too.
    const rule = { minSize: 1024 * 1024, include: ["**/*.bin"], exclude: [] };
    const bare = join(pair.root, "history-include.git");
    execFileSync("git", ["init", "--quiet", "--bare", "--initial-branch=main", bare]);
    const a = await agent(pair.a, bare, "a", rule);
    const b = await agent(pair.b, bare, "b", rule);
    const bytes = randomBytes(8 * 1024);
    await mkdir(join(a.root, "e"));
    await writeFile(join(a.root, "e/y.bin"), bytes);
    assert.ok((await a.engine.sync()).committed);

    // B takes the commit (a pointer file, its content not downloaded yet) and the person renames it.
    await b.engine.sync();
    const pointer = await readFile(join(b.root, "e/y.bin"), "utf8");
    assert.match(pointer, /^\/annex\/objects\/SHA256E-s8192--/);
    await rename(join(b.root, "e/y.bin"), join(b.root, "e/z.bin"));
    assert.ok((await b.engine.sync(["e/y.bin", "e/z.bin"])).committed, "the rename is committed");
    const committed = execFileSync("git", ["--git-dir", b.local.git.gitDir, "cat-file", "blob", "HEAD:e/z.bin"], { encoding: "utf8" });
    assert.equal(committed, pointer, "the renamed file is committed as the same pointer, not as new content made of the pointer's text");
    await b.content.download();
    assert.ok((await readFile(join(b.root, "e/z.bin"))).equals(bytes), "B's renamed file gets its content");

    // A takes the rename: its file keeps its content under the new name.
    await a.engine.sync();
    await a.content.download();
    assert.ok((await readFile(join(a.root, "e/z.bin"))).equals(bytes), "A's renamed file holds the same content");
  });
});
