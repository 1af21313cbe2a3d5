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

/**
 * An annexed file whose content is still on its way can be moved by the person meanwhile: its pointer file
 * goes with the move. The download then finds no pointer where its job said, and the moved pointer is only
 * committed later, by the round the move asked for. That file must still get its content, from that round,
 * not only from a round over the whole folder (the daemon runs one every ten minutes).
 */
describe("a pointer file moved while its content downloads", () => {
  const pair = useAgentPair("moved-pointer");

  /** An agent's folder as the daemon runs it: its engine, its content, git history through a bare repository. */
  async function agent(repo: AgentRepo, bare: string, name: string) {
    await LocalRepo.create(repo.dir);
    const local = await new LocalRepo(repo.dir, { name, email: `${name}@test` }).open();
    const content: AnnexContent = new AnnexContent(repo.annex, new TransferQueue(local.stateDir), {
      largefiles: { minSize: 1024, include: [], exclude: [] },
      wanted: "everything",
      place: async (path, key) => void (await placeAtPointers(local, content, path, key)),
    });
    return { root: repo.dir, content, engine: new SyncEngine(local, new BareRepoRemote(local.git, bare), { annex: content, content }) };
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
});
