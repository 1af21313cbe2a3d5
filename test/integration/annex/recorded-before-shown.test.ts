import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { useAgentPair } from "../../helpers/test-bed.ts";
import { Annex, AnnexBranch, readLocations, recordPresence } from "../../../annex/index.ts";
import { AnnexContent } from "../../../agent/sync/annex-content.ts";
import { TransferQueue } from "../../../agent/sync/transfer-queue.ts";
import { agentEnv, cli, cliOk } from "../../helpers/agents.ts";

/**
 * Content a person can see is content on record: a downloaded file is put in place only once the location
 * log says this machine has it (as git-annex writes its journal per file), so `fsck` run at any moment —
 * the daemon still busy with the batch's other files — finds no content missing from the log. And content
 * a crash left in the store without its record is recorded by the next round, not reported forever.
 */
describe("the location log records content before it is shown", () => {
  const pair = useAgentPair("recorded");

  const hereInLog = async (annex: Annex, key: string) => (await readLocations(annex.branch, key)).get(annex.uuid)?.status === "1";

  it("puts a downloaded file in place only once its location log says it is here, while the batch's other files still arrive", async () => {
    const { a, b } = pair;
    const keys: string[] = [];
    for (const name of ["first.bin", "second.bin"]) {
      writeFileSync(join(a.dir, name), randomBytes(64 * 1024));
      keys.push(await a.annex.add(join(a.dir, name)));
    }
    const [first, second] = keys as [string, string];
    await a.annex.upload(keys.map((key) => ({ key })));
    await b.sync();

    // The second file's bytes are held back until the first file has been put in place (and looked at).
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const store = new Proxy(b.annex.cloud.store, {
      get(target, property, receiver) {
        const value = Reflect.get(target, property, receiver) as unknown;
        if (property !== "getStream" || typeof value !== "function") return typeof value === "function" ? value.bind(target) : value;
        return async (bucketKey: string, ...rest: unknown[]) => {
          if (bucketKey.endsWith(second)) await released;
          return (value as (...args: unknown[]) => unknown).call(target, bucketKey, ...rest);
        };
      },
    });
    const annex = new Annex({ gitDir: b.gitDir, uuid: b.uuid, cloud: { ...b.annex.cloud, store }, cloudUuid: b.annex.cloudUuid });
    const stateDir = join(b.gitDir, "cloudbridge-test");
    mkdirSync(stateDir, { recursive: true });
    const queue = new TransferQueue(stateDir);
    const seen = new Map<string, boolean>();
    const content = new AnnexContent(annex, queue, {
      largefiles: { minSize: 1, include: [], exclude: [] },
      wanted: "everything",
      place: async (_path, key) => {
        seen.set(key, await hereInLog(annex, key));
        if (key === first) release();
      },
    });
    await queue.add([
      { direction: "down", key: first, path: "first.bin" },
      { direction: "down", key: second, path: "second.bin" },
    ]);
    assert.equal(await content.download(), 0, "both downloads done");
    assert.deepEqual(
      Object.fromEntries(seen),
      { [first]: true, [second]: true },
      "when each file was put in place, the location log already said this machine has it",
    );
  });

  it("records content a crash left in the store without its location log at the next sync, instead of fsck reporting it forever", async () => {
    const env = agentEnv(pair.test.cloud.env);
    const dir = join(pair.root, "folder");
    mkdirSync(dir);
    await cliOk(["init", dir, "--remote", "s3://cloudbridge/crashed"], env);
    // Large enough to be annexed by default.
    writeFileSync(join(dir, "kept.bin"), randomBytes(2 * 1024 * 1024));
    await cliOk(["sync", dir], env);
    const pointer = execFileSync("git", ["cat-file", "blob", "main:kept.bin"], { env: { ...process.env, GIT_DIR: join(dir, ".git") } });
    const key = pointer.toString().trim().split("/").pop()!;
    const branch = new AnnexBranch(join(dir, ".git"));
    const uuid = execFileSync("git", ["config", "annex.uuid"], { env: { ...process.env, GIT_DIR: join(dir, ".git") } })
      .toString()
      .trim();
    // The state a kill -9 leaves between the content's arrival in the store and its record.
    await recordPresence(branch, [{ key, uuid, present: false }]);
    const before = await cli(["fsck"], env, { cwd: dir });
    assert.notEqual(before.code, 0);
    assert.match(before.stdout, /the content is here but the location log does not say so/);

    await cliOk(["sync", dir], env);
    assert.equal((await readLocations(branch, key)).get(uuid)?.status, "1", "recorded by the next round");
    await cliOk(["fsck"], env, { cwd: dir });
  });
});
