import { randomUUID } from "node:crypto";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { after, before } from "node:test";
import type { ObjectStore } from "../../objectstore/object-store.ts";
import { S3ObjectStore } from "../../objectstore/s3-object-store.ts";
import { BucketLayout } from "../../protocol/layout.ts";
import type { RepoContext } from "../../gitstore/index.ts";
import { startTestCloud, type TestCloud } from "./local-cloud.ts";
import { initRepo, tempDir } from "./git.ts";

export type TestClone = RepoContext & { dir: string; agent: string };

/** What a git-over-the-bucket test file shares: one local cloud, a scratch folder, and fresh clones. */
export interface GitCloud {
  t: TestCloud;
  store: S3ObjectStore;
  layout: BucketLayout;
  work: string;
  /** A new empty repository (work tree on main) set up to sync `repo`, with its own agent id. */
  clone(repo: string, store?: ObjectStore): Promise<TestClone>;
  /** A fresh folder name under the scratch folder. */
  path(name: string): string;
}

/** Starts the cloud before the file's tests and stops it (and removes the scratch folder) after them. */
export function useGitCloud(name: string, prefix?: string): GitCloud {
  let counter = 0;
  let scratch: { path: string; remove(): Promise<void> };
  const bed = {
    layout: new BucketLayout(prefix),
    path: (base: string) => join(bed.work, `${base}-${counter++}`),
    clone: async (repo: string, store?: ObjectStore): Promise<TestClone> => {
      const dir = bed.path("clone");
      await mkdir(dir);
      return { dir, gitDir: await initRepo(dir), store: store ?? bed.store, layout: bed.layout, repo, agent: randomUUID() };
    },
  } as GitCloud;
  before(async () => {
    bed.t = await startTestCloud();
    bed.store = new S3ObjectStore(bed.t.cloud.bucket, bed.t.s3);
    scratch = await tempDir(name);
    bed.work = scratch.path;
  });
  after(async () => {
    await scratch.remove();
    await bed.t.stop();
  });
  return bed;
}

/** Sets refs' lines of the refs index (info/refs) to the values given, whatever they are, as a damaged or hostile bucket would. */
export async function setIndexedRefs(
  store: ObjectStore,
  layout: BucketLayout,
  repo: string,
  entries: ReadonlyMap<string, string>,
): Promise<void> {
  const key = layout.infoRefs(repo);
  const current = await store.get(key);
  const lines = current && current !== "not-modified" ? current.body.toString().split("\n").filter(Boolean) : [];
  const kept = lines.filter((line) => !entries.has(line.slice(line.indexOf("\t") + 1)));
  await store.put(key, `${[...kept, ...[...entries].map(([ref, value]) => `${value}\t${ref}`)].join("\n")}\n`);
}

/** Makes ref `ref`'s line of the refs index (info/refs) hold `value` instead of an object id, as a damaged or hostile bucket would. */
export function damageIndexedRef(store: ObjectStore, layout: BucketLayout, repo: string, ref: string, value: string): Promise<void> {
  return setIndexedRefs(store, layout, repo, new Map([[ref, value]]));
}
