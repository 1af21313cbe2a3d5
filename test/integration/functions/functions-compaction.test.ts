import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fetchRefs, push, readInfoPacks } from "../../../gitstore/index.ts";
import { startLocalFunction, type LocalFunction } from "../../../local/lambda-runtime.ts";
import { S3ObjectStore } from "../../../objectstore/s3-object-store.ts";
import { BucketLayout } from "../../../protocol/layout.ts";
import { commitFile, git, initRepo, tempDir } from "../../helpers/git.ts";
import { startTestCloud, type TestCloud } from "../../helpers/local-cloud.ts";

/**
 * The compaction function's real handler (the module the stack bundles), run as Lambda runs it, in its own
 * worker with the stack's environment, against the local cloud's S3, invoked as `aws lambda invoke` would.
 */
describe("compaction function against the local cloud", () => {
  let t: TestCloud;
  let fn: LocalFunction;
  let store: S3ObjectStore;
  let work: { path: string; remove(): Promise<void> };
  const layout = new BucketLayout("team");

  before(async () => {
    t = await startTestCloud();
    store = new S3ObjectStore(t.cloud.bucket, t.s3);
    work = await tempDir("compaction-fn");
    fn = startLocalFunction({
      name: "cloudbridge-compaction",
      module: new URL("../../../functions/compaction/handler.ts", import.meta.url),
      timeoutMs: 120_000,
      env: {
        ...t.cloud.env,
        BUCKET_NAME: t.cloud.bucket,
        BUCKET_PREFIX: layout.prefix,
        REPOS: "notes,photos",
        COMPACTION_GRACE_MINUTES: "0",
        POWERTOOLS_LOG_LEVEL: "ERROR",
        POWERTOOLS_METRICS_DISABLED: "true",
        PATH: process.env.PATH ?? "",
      },
    });
  });
  after(async () => {
    await fn?.stop();
    await work?.remove();
    await t?.stop();
  });

  it("merges a repository's packs on demand into one that a fresh clone reads, and deletes the old ones once their grace is over", async () => {
    const dir = join(work.path, "writer");
    await mkdir(dir);
    const ctx = { dir, gitDir: await initRepo(dir), store, layout, repo: "notes", agent: randomUUID() };
    let tip = "";
    for (let i = 0; i < 4; i++) {
      tip = await commitFile(dir, `note-${i}.txt`, `note ${i}\n`);
      await push({ ...ctx, updates: [{ ref: "refs/heads/main", oid: tip }] });
    }
    const before = await readInfoPacks(store, layout, "notes");
    assert.equal(before.length, 4);

    const first = (await fn.invoke({ repo: "notes" })) as { compacted: Record<string, { published: string; merged: string[] }> };
    assert.deepEqual(first.compacted.notes!.merged.sort(), [...before].sort());
    assert.deepEqual(await readInfoPacks(store, layout, "notes"), [first.compacted.notes!.published]);

    const second = (await fn.invoke({})) as { compacted: Record<string, { deleted: string[] }> };
    assert.deepEqual(second.compacted.notes!.deleted.sort(), [...before].sort());
    assert.deepEqual(Object.keys(second.compacted).sort(), ["notes", "photos"]);
    const packs: string[] = [];
    for await (const info of store.list(layout.packsRoot("notes"))) packs.push(info.key);
    assert.equal(packs.length, 2, `only the compacted pack and its index remain: ${packs.join(", ")}`);

    const readerDir = join(work.path, "reader");
    await mkdir(readerDir);
    const reader = { dir: readerDir, gitDir: await initRepo(readerDir), store, layout, repo: "notes", agent: randomUUID() };
    await fetchRefs(reader);
    assert.equal(await git(readerDir, "rev-parse", "refs/remotes/cloud/main"), tip);
    await git(readerDir, "fsck", "--strict", "--no-dangling");
  });

  it("skips, logs and counts requests for repositories outside the stack or outside the layout, without touching the bucket", async () => {
    const result = (await fn.invoke({ repos: ["../etc", "secret-repo"] })) as { compacted: object; skipped: string[] };
    assert.deepEqual(result.compacted, {});
    assert.equal(result.skipped.length, 2);
    const forged = (await fn.invoke({ repo: "notes", Records: [] })) as { compacted: object; skipped: string[] };
    assert.deepEqual(forged.compacted, {});
    assert.match(forged.skipped[0]!, /not a compaction request/);
  });
});
