import { execFileSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtemp } from "node:fs/promises";
import { join } from "node:path";
import { fetchRefs, push, type OnConflict, type RepoContext } from "../../gitstore/index.ts";
import { S3ObjectStore } from "../../objectstore/s3-object-store.ts";
import { BucketLayout } from "../../protocol/layout.ts";
import type { TestCloud } from "./local-cloud.ts";

/**
 * Someone with write access to the bucket, writing through cloudbridge's own git layer (push, and the
 * object store under it) from a bare repository of their own: what another machine's credentials allow.
 */
export interface Attacker {
  ctx: RepoContext;
  /** git in the attacker's repository; returns stdout trimmed. */
  git(args: string[], input?: Buffer | string): string;
  blob(content: Buffer | string): string;
  /** The entries of a tree (one level), as `tree` takes them. */
  entries(tree: string): Array<[mode: string, name: string, oid: string]>;
  /** A tree from [mode, name, oid] entries, written as given (sorted by name), no checks. */
  tree(entries: Array<[mode: string, name: string, oid: string]>): string;
  commit(tree: string, parents?: string[], message?: string): string;
  /** The shared ref's commit in the bucket (fetched, so its objects are here), if any. */
  head(ref?: string): Promise<string | undefined>;
  /** Publishes `oid` as `ref` through cloudbridge's push, as a made-up agent (force by default). */
  push(ref: string, oid: string, onConflict?: OnConflict, agent?: string): Promise<void>;
}

export async function attacker(t: TestCloud, repo: string, dir: string): Promise<Attacker> {
  const gitDir = await mkdtemp(join(dir, "attacker-"));
  execFileSync("git", ["init", "--quiet", "--bare", gitDir]);
  const env = {
    ...process.env,
    GIT_DIR: gitDir,
    GIT_AUTHOR_NAME: "Mallory",
    GIT_AUTHOR_EMAIL: "m@example.com",
    GIT_COMMITTER_NAME: "Mallory",
    GIT_COMMITTER_EMAIL: "m@example.com",
  };
  const git = (args: string[], input?: Buffer | string) =>
    execFileSync("git", args, { input: input ?? "", env, maxBuffer: 1 << 30 })
      .toString()
      .trim();
  const ctx: RepoContext = { store: new S3ObjectStore(t.cloud.bucket, t.s3), layout: new BucketLayout(""), repo, gitDir };
  return {
    ctx,
    git,
    blob: (content) => git(["hash-object", "-w", "--stdin"], content),
    entries: (tree) =>
      git(["ls-tree", tree])
        .split("\n")
        .filter(Boolean)
        .map((line) => {
          const [meta, name] = line.split("\t");
          const [mode, , oid] = meta!.split(" ");
          return [mode!, name!, oid!];
        }),
    tree: (entries) => {
      const sorted = [...entries].sort(([, a], [, b]) => (a < b ? -1 : a > b ? 1 : 0));
      const body = Buffer.concat(
        sorted.map(([mode, name, oid]) => Buffer.concat([Buffer.from(`${mode} ${name}\0`), Buffer.from(oid, "hex")])),
      );
      return git(["hash-object", "-t", "tree", "-w", "--literally", "--stdin"], body);
    },
    commit: (tree, parents = [], message = "attack") => git(["commit-tree", tree, ...parents.flatMap((p) => ["-p", p]), "-m", message]),
    head: async (ref = "refs/heads/main") => (await fetchRefs(ctx)).refs.shared.get(ref)?.oid,
    push: async (ref, oid, onConflict = "force", agent = randomUUID()) => {
      const outcome = await push({ ...ctx, agent, updates: [{ ref, oid, onConflict }] });
      const result = outcome.results[0]!;
      if (result.status === "rejected") throw new Error(`attacker push of ${ref} rejected: ${result.reason}`);
    },
  };
}

/**
 * A tree of `fanout`^`levels` files built from `levels` + 1 objects: each level's tree names the level
 * below `fanout` times. A few hundred bytes that expand to millions of paths.
 */
export function treeBomb(a: Attacker, fanout: number, levels: number): string {
  let tree = a.tree(Array.from({ length: fanout }, (_, i) => ["100644", `f${i}`, a.blob("x\n")] as [string, string, string]));
  for (let level = 1; level < levels; level++) {
    const below = tree;
    tree = a.tree(Array.from({ length: fanout }, (_, i) => ["40000", `d${i}`, below] as [string, string, string]));
  }
  return tree;
}

/** A tree `depth` folders deep (d/d/d/…/deep.txt). */
export function deepTree(a: Attacker, depth: number): string {
  let tree = a.tree([["100644", "deep.txt", a.blob("deep\n")]]);
  for (let i = 0; i < depth; i++) tree = a.tree([["40000", "d", tree]]);
  return tree;
}
