import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { before, describe, it } from "node:test";
import { useAgentPair } from "../../helpers/test-bed.ts";
import type { TestCloud } from "../../helpers/local-cloud.ts";
import type { AgentRepo } from "../../helpers/annex-repos.ts";
import { runWorker } from "../../helpers/annex-child.ts";

const KILLS_PER_DIRECTION = 10;
const SIZE = 24 * 1024 * 1024;
// Each part upload and ranged GET waits this long, so a transfer lasts long enough to be killed inside.
const SLOW = { ANNEX_WORKER_DELAY_MS: "120" };

const sha256 = (data: Buffer) => createHash("sha256").update(data).digest("hex");

describe("transfers killed at random points", () => {
  let test: TestCloud;
  let a: AgentRepo;
  let b: AgentRepo;
  const pair = useAgentPair("docs");

  before(async () => {
    ({ test, a, b } = pair);
  });

  /** Nothing under the key but the exact content, and no log entry that is not true. */
  async function checkInvariants(key: string, expected: string): Promise<{ inCloud: boolean; atB: boolean }> {
    const object = await a.annex.cloud.store.get(`annex/docs/${key}`);
    const inCloud = object !== undefined && object !== "not-modified";
    if (inCloud) assert.equal(sha256(object.body), expected, "the object under the key is exactly the content");
    const objectPath = b.annex.local.objectPath(key);
    const atB = existsSync(objectPath);
    if (atB) assert.equal(sha256(readFileSync(objectPath)), expected, "B's object store holds exactly the content");
    for (const repo of [a, b]) {
      for (const location of await repo.annex.whereis(key)) {
        if (location.cloud) assert.ok(inCloud, "the cloud is marked present only when the object is there");
        if (location.uuid === b.uuid) assert.ok(atB, "B is marked present only when its store has the content");
      }
    }
    return { inCloud, atB };
  }

  // When to kill: every other kill at a random moment of the last full transfer's duration (start-up
  // included); the others shortly after the transfer's resumable record appears, so that kills land inside
  // transfers however slowly a loaded machine starts processes.
  let window = 1500;
  const killAt = () => window * (0.15 + 0.8 * Math.random());
  async function transfer(args: string[], kill: false | { round: number; record: string }) {
    const started = performance.now();
    const killOption = !kill
      ? {}
      : kill.round % 2 === 0
        ? { killAfterMs: killAt() }
        : { killAfterFile: { path: kill.record, afterMs: 20 + 200 * Math.random() } };
    const run = await runWorker(test, args, { env: SLOW, ...killOption });
    if (run.code === 0 && /"(up|down)loaded":\{"(up|down)loaded":true/.test(run.stdout)) window = performance.now() - started;
    return run;
  }

  it("never leaves a wrong object under a key, never marks a key present that is not, and finally completes", async () => {
    let upKills = 0;
    let upResumable = 0;
    let content = Buffer.alloc(0);
    let key = "";
    let expected = "";
    // Uploads from A: kill at a random moment; when one run finished first, the next round uses a new file.
    for (let round = 0; upKills < KILLS_PER_DIRECTION; round++) {
      assert.ok(round < 60, "kills keep missing the transfer");
      if (!key || (await checkInvariants(key, expected)).inCloud) {
        content = randomBytes(SIZE);
        writeFileSync(join(a.dir, `file-${round}.bin`), content);
        key = await a.annex.add(join(a.dir, `file-${round}.bin`));
        expected = sha256(content);
      }
      const record = join(a.gitDir, "annex", "cloudbridge", "uploads", `${key}.json`);
      const run = await transfer(["upload", a.dir, key], { round, record });
      if (run.signal === "SIGKILL") {
        upKills++;
        if (existsSync(record)) upResumable++;
        else window *= 1.25; // killed before the transfer began: aim later
      } else {
        assert.equal(run.code, 0, run.stderr);
      }
      await checkInvariants(key, expected);
    }
    const finished = await transfer(["upload", a.dir, key], false);
    assert.equal(finished.code, 0, finished.stderr);
    assert.equal((await checkInvariants(key, expected)).inCloud, true);

    let downKills = 0;
    let downResumable = 0;
    await b.sync();
    for (let round = 0; downKills < KILLS_PER_DIRECTION; round++) {
      assert.ok(round < 60, "kills keep missing the transfer");
      if ((await checkInvariants(key, expected)).atB) {
        // B got it before a kill landed: drop it and download again.
        await b.annex.local.remove(key);
        await b.annex.record([{ key, uuid: b.uuid, present: false }], "test: forget");
      }
      const record = `${b.annex.local.tmpPath(key)}.cloudbridge-ranges.json`;
      const run = await transfer(["get", b.dir, key], { round, record });
      if (run.signal === "SIGKILL") {
        downKills++;
        if (existsSync(record)) downResumable++;
        else window *= 1.25;
      } else {
        assert.equal(run.code, 0, run.stderr);
      }
      await checkInvariants(key, expected);
    }
    const got = await transfer(["get", b.dir, key], false);
    assert.equal(got.code, 0, got.stderr);
    assert.equal((await checkInvariants(key, expected)).atB, true);
    assert.ok(readFileSync(b.annex.local.objectPath(key)).equals(content));
    process.stdout.write(
      `# kills: ${upKills} uploads (${upResumable} left a resumable record), ${downKills} downloads (${downResumable} resumable)\n`,
    );
    assert.ok(upResumable >= 3 && downResumable >= 3, "kills landed inside transfers, which then resumed");
  });
});
