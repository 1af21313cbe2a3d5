import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { before, describe, it } from "node:test";
import { useAgentPair } from "../../helpers/test-bed.ts";
import type { TestCloud } from "../../helpers/local-cloud.ts";
import type { AgentRepo } from "../../helpers/annex-repos.ts";
import { runCli } from "../../helpers/annex-child.ts";

describe("drop never removes the last copy, even when agents drop at once", () => {
  let test: TestCloud;
  let a: AgentRepo;
  let b: AgentRepo;
  const pair = useAgentPair("shared");
  let key: string;

  before(async () => {
    ({ test, a, b } = pair);
    writeFileSync(join(a.dir, "thesis.pdf"), randomBytes(300 * 1024));
    key = await a.annex.add(join(a.dir, "thesis.pdf"));
  });

  const inCloud = async () => (await a.annex.cloud.store.head(`annex/shared/${key}`)) !== undefined;
  const copies = async () => ({ a: await a.annex.local.has(key), b: await b.annex.local.has(key), cloud: await inCloud() });

  /** Every copy back: A, B and the cloud. */
  async function restore() {
    const now = await copies();
    if (!now.cloud) await (now.a ? a : b).annex.upload([{ key }]);
    if (!now.a) await a.annex.get([{ key }]);
    if (!now.b) await b.annex.get([{ key }]);
    assert.deepEqual(await copies(), { a: true, b: true, cloud: true });
  }

  it("refuses on both agents when each would count only the other's unverifiable copy", async () => {
    await restore();
    await a.annex.dropFromCloud(key);
    const runs = await Promise.all([a, b].map((agent) => runCli(test, agent.dir, ["drop", "--key", key])));
    for (const run of runs) {
      assert.equal(run.code, 1);
      assert.match(run.stderr, /Refusing to drop this repository's copy of .*no other copy could be verified, and numcopies is 1/);
    }
    assert.deepEqual(await copies(), { a: true, b: true, cloud: false });
  });

  it("four drops at once (each agent's own copy and the cloud's, from both agents) leave at least one copy, and the logs tell the truth", async () => {
    const outcomes = new Set<string>();
    for (let round = 0; round < 4; round++) {
      await restore();
      const runs = await Promise.all([
        runCli(test, a.dir, ["drop", "--key", key]),
        runCli(test, b.dir, ["drop", "--key", key]),
        runCli(test, a.dir, ["drop", "--from", "cloud", "--key", key]),
        runCli(test, b.dir, ["drop", "--from", "cloud", "--key", key]),
      ]);
      for (const run of runs) {
        assert.ok(run.code === 0 || /Refusing to drop/.test(run.stderr), `a drop failed for another reason: ${run.stderr}`);
      }
      const left = await copies();
      outcomes.add(JSON.stringify(left));
      assert.ok(left.a || left.b || left.cloud, `round ${round}: every copy is gone`);
      assert.ok(
        runs.some((run) => run.code !== 0),
        "at least one drop was refused",
      );
      // After both agents merged the shared git-annex branch, it says exactly where the content is.
      await a.sync();
      await b.sync();
      for (const agent of [a, b]) {
        const where = await agent.annex.whereis(key);
        assert.equal(
          where.some((l) => l.uuid === a.uuid),
          left.a,
          "A's entry matches A's store",
        );
        assert.equal(
          where.some((l) => l.uuid === b.uuid),
          left.b,
          "B's entry matches B's store",
        );
        assert.equal(
          where.some((l) => l.cloud),
          left.cloud,
          "the cloud's entry matches the bucket",
        );
      }
    }
    process.stdout.write(`# copies left after racing drops: ${[...outcomes].join(" ")}\n`);
    assert.equal(existsSync(a.annex.local.objectPath(key)) || existsSync(b.annex.local.objectPath(key)) || (await inCloud()), true);
  });
});
