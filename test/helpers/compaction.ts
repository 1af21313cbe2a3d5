import { randomUUID } from "node:crypto";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { push } from "../../gitstore/index.ts";
import type { ObjectStore } from "../../objectstore/index.ts";
import type { BucketLayout } from "../../protocol/index.ts";
import { commitFile, initRepo } from "./git.ts";

/**
 * Repositories with two packs each, for compaction to merge: the first is pushed twice from a git
 * repository made in `workDir`, then its objects are copied under every other name (fast: no git runs).
 */
export async function seedTwoPackRepositories(
  store: ObjectStore,
  layout: BucketLayout,
  names: readonly string[],
  workDir: string,
): Promise<void> {
  const [first, ...others] = names;
  const dir = join(workDir, "writer");
  await mkdir(dir);
  const ctx = { dir, gitDir: await initRepo(dir), store, layout, repo: first!, agent: randomUUID() };
  for (let i = 0; i < 2; i++) {
    const tip = await commitFile(dir, `note-${i}.txt`, `note ${i}\n`);
    await push({ ...ctx, updates: [{ ref: "refs/heads/main", oid: tip }] });
  }
  const root = layout.repoRoot(first!);
  const objects: { key: string; body: Buffer }[] = [];
  for await (const info of store.list(root)) {
    const object = await store.get(info.key);
    if (!object || object === "not-modified") throw new Error(`${info.key} was listed but cannot be read`);
    objects.push({ key: info.key.slice(root.length), body: object.body });
  }
  for (const repo of others) {
    await Promise.all(objects.map(({ key, body }) => store.put(`${layout.repoRoot(repo)}${key}`, body)));
  }
}
