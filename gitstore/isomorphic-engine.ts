import * as fs from "node:fs";
import { link, mkdir, mkdtemp, readFile, rename, rm, symlink, writeFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import git from "isomorphic-git";
import { writeDeltaPack } from "./delta-pack.ts";
import type { GitEngine, PackFiles, PackRange } from "./engine.ts";
import { GitStoreError } from "./errors.ts";
import { objectLinks, type ObjectType } from "./object-format.ts";
import { parsePackIndex, verifyPackFile } from "./pack-format.ts";

type Read = (oid: string) => Promise<{ type: ObjectType; object: Uint8Array } | undefined>;

/**
 * isomorphic-git behind the engine seam, for where no git binary exists (the compaction Lambda). It holds
 * packs in memory, so it is the portable engine, not the fast one; a push's pack has no deltas
 * (isomorphic-git writes none), a combined pack has (delta-pack.ts, so compaction shrinks a repository as
 * git's would). What isomorphic-git lacks — "reachable from A and not from B", tree-entry checks — is done here
 * with a plain object walk.
 */
export class IsomorphicGitEngine implements GitEngine {
  readonly name = "isomorphic";

  async packObjects(gitDir: string, range: PackRange, outDir: string) {
    const cache = {}; // isomorphic-git's pack cache, for this call only (packs are held in memory)
    const read = this.reader([gitDir], cache);
    const presentExcludes: string[] = [];
    for (const oid of range.exclude) if (await read(oid)) presentExcludes.push(oid);
    const { reached: excluded } = await walk(read, presentExcludes, new Set());
    const { reached, missing } = await walk(read, range.tips, excluded);
    for (const oid of range.include ?? []) {
      if (reached.has(oid)) continue;
      if (await read(oid)) reached.add(oid);
      else missing.push(oid);
    }
    if (missing.length > 0)
      throw new GitStoreError("missing-objects", `The repository lacks objects it needs to pack: ${missing.slice(0, 5).join(", ")}.`);
    if (reached.size === 0) return undefined;
    const { filename, packfile } = await git.packObjects({ fs, gitdir: gitDir, oids: [...reached], cache });
    await writeFile(join(outDir, filename), packfile!);
    return this.indexPack(gitDir, join(outDir, filename));
  }

  async indexPack(gitDir: string, packPath: string): Promise<PackFiles> {
    const cache = {}; // isomorphic-git's pack cache, for this call only (packs are held in memory)
    const summary = await verifyPackFile(packPath, basename(packPath));
    let oids: string[];
    try {
      ({ oids } = await git.indexPack({ fs, dir: dirname(packPath), gitdir: gitDir, filepath: basename(packPath), cache }));
    } catch (error) {
      throw new GitStoreError(
        "corrupt-pack",
        `The pack ${basename(packPath)} could not be indexed: ${(error as Error).message}. Nothing was changed locally.`,
      );
    }
    if (oids.length !== summary.objectCount) {
      throw new GitStoreError(
        "corrupt-pack",
        `The pack ${basename(packPath)} announces ${summary.objectCount} objects but holds ${oids.length}.`,
      );
    }
    // Every object must parse, and no tree may carry an unsafe name (git's fsck does this natively).
    const packGitDir = await this.packDir(packPath);
    try {
      const read = this.reader([packGitDir], cache);
      for (const oid of oids) {
        const object = await read(oid);
        if (!object) throw new GitStoreError("corrupt-pack", `The pack ${basename(packPath)} lists ${oid} but it cannot be read.`);
        objectLinks(object.type, object.object, oid);
      }
    } finally {
      await rm(packGitDir, { recursive: true, force: true });
    }
    const idxPath = packPath.replace(/\.pack$/, ".idx");
    return { name: summary.name, packPath, idxPath, objectCount: summary.objectCount };
  }

  async missingObjects(gitDir: string, tips: readonly string[], extraObjectDir?: string): Promise<string[]> {
    const cache = {}; // isomorphic-git's pack cache, for this call only (packs are held in memory)
    const dirs = [gitDir];
    if (extraObjectDir) dirs.push(await this.objectsAsGitDir(extraObjectDir));
    const { missing } = await walk(this.reader(dirs, cache), tips, new Set());
    return missing.slice(0, 5);
  }

  async combinePacks(packs: readonly PackFiles[], outDir: string): Promise<PackFiles> {
    const cache = {}; // isomorphic-git's pack cache, for this call only (packs are held in memory)
    const scratch = await mkdtemp(join(outDir, "combine-"));
    try {
      await mkdir(join(scratch, "objects", "pack"), { recursive: true });
      const oids = new Set<string>();
      for (const pack of packs) {
        await link(pack.packPath, join(scratch, "objects", "pack", `${pack.name}.pack`));
        await link(pack.idxPath, join(scratch, "objects", "pack", `${pack.name}.idx`));
        for (const oid of parsePackIndex(await readFile(pack.idxPath), `${pack.name}.idx`).oids) oids.add(oid);
      }
      // isomorphic-git's own packObjects writes every object whole; this pack has deltas, as git's would.
      const temporary = join(outDir, "combined.pack.tmp");
      const { checksum } = await writeDeltaPack(this.reader([scratch], cache), oids, temporary);
      const filename = `pack-${checksum}.pack`;
      await rename(temporary, join(outDir, filename));
      const { oids: indexed } = await git.indexPack({ fs, dir: outDir, gitdir: scratch, filepath: filename, cache });
      const summary = await verifyPackFile(join(outDir, filename), filename);
      if (indexed.length !== oids.size) throw new Error(`combined pack holds ${indexed.length} objects, expected ${oids.size}`);
      return {
        name: summary.name,
        packPath: join(outDir, filename),
        idxPath: join(outDir, filename.replace(/\.pack$/, ".idx")),
        objectCount: indexed.length,
      };
    } finally {
      await rm(scratch, { recursive: true, force: true });
    }
  }

  async hasObjects(gitDir: string, oids: readonly string[]): Promise<Set<string>> {
    const read = this.reader([gitDir], {});
    const present = new Set<string>();
    for (const oid of oids) if (await read(oid)) present.add(oid);
    return present;
  }

  async isAncestor(gitDir: string, ancestor: string, descendant: string): Promise<boolean> {
    if (ancestor === descendant) return (await this.hasObjects(gitDir, [ancestor])).has(ancestor);
    if (!(await this.hasObjects(gitDir, [ancestor])).has(ancestor)) return false;
    return git.isDescendent({ fs, gitdir: gitDir, oid: descendant, ancestor, depth: -1, cache: {} });
  }

  async resolveRef(gitDir: string, rev: string): Promise<string | undefined> {
    if (/^[0-9a-f]{40}$/.test(rev)) return (await this.hasObjects(gitDir, [rev])).has(rev) ? rev : undefined;
    try {
      return await git.resolveRef({ fs, gitdir: gitDir, ref: rev });
    } catch (error) {
      if ((error as { code?: string }).code === "NotFoundError") return undefined;
      throw error;
    }
  }

  async readRefs(gitDir: string, prefixes: readonly string[]): Promise<Map<string, string>> {
    const refs = new Map<string, string>();
    for (const prefix of prefixes) {
      const dir = prefix.replace(/\/$/, "");
      for (const name of await git.listRefs({ fs, gitdir: gitDir, filepath: dir })) {
        refs.set(`${dir}/${name}`, await git.resolveRef({ fs, gitdir: gitDir, ref: `${dir}/${name}`, depth: 1 }));
      }
    }
    return refs;
  }

  /** One ref at a time: isomorphic-git has no transaction (the portable engine serves one process). */
  async updateRefs(gitDir: string, updates: readonly { ref: string; oid: string | null }[]): Promise<void> {
    for (const { ref, oid } of updates) {
      if (oid) await git.writeRef({ fs, gitdir: gitDir, ref, value: oid, force: true });
      else await git.deleteRef({ fs, gitdir: gitDir, ref });
    }
  }

  /** Reads an object from the first of `gitDirs` that has it. */
  private reader(gitDirs: readonly string[], cache: object): Read {
    return async (oid) => {
      for (const gitdir of gitDirs) {
        try {
          const result = await git.readObject({ fs, gitdir, oid, format: "content", cache });
          if (result.format === "content") return { type: result.type, object: result.object };
        } catch (error) {
          if ((error as { code?: string }).code !== "NotFoundError") throw error;
        }
      }
      return undefined;
    };
  }

  /** isomorphic-git reads `<gitdir>/objects/…`: a directory of packs becomes a git dir through a symlink. */
  private async objectsAsGitDir(objectDir: string): Promise<string> {
    const gitdir = join(objectDir, "as-gitdir");
    await mkdir(gitdir, { recursive: true });
    await symlink(objectDir, join(gitdir, "objects")).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== "EEXIST") throw error;
    });
    return gitdir;
  }

  private async packDir(packPath: string): Promise<string> {
    const gitdir = `${packPath}.gitdir`;
    await mkdir(join(gitdir, "objects"), { recursive: true });
    await symlink(dirname(packPath), join(gitdir, "objects", "pack")).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== "EEXIST") throw error;
    });
    return gitdir;
  }
}

/** Every object reachable from `tips` without passing through `stop`, and the ids it could not read. */
async function walk(read: Read, tips: readonly string[], stop: ReadonlySet<string>) {
  const reached = new Set<string>();
  const missing: string[] = [];
  const stack = [...tips];
  while (stack.length > 0) {
    const oid = stack.pop()!;
    if (reached.has(oid) || stop.has(oid)) continue;
    const object = await read(oid);
    if (!object) {
      missing.push(oid);
      continue;
    }
    reached.add(oid);
    stack.push(...objectLinks(object.type, object.object, oid));
  }
  return { reached, missing };
}
