import { link, mkdtemp, rm } from "node:fs/promises";
import { basename, join } from "node:path";
import type { GitEngine, PackFiles } from "./engine.ts";
import { GitStoreError } from "./errors.ts";
import { readPackObjectCount, verifyPackFile } from "./pack-format.ts";
import { gitText, hasObjects, initRepository, isAncestor, readRefs, resolveRef, runGit, updateRefs } from "../localgit/index.ts";

/** The git binary behind the engine seam: what the agent uses wherever git is installed. */
export class NativeGitEngine implements GitEngine {
  readonly name = "native";

  async packObjects(gitDir: string, range: { tips: readonly string[]; exclude: readonly string[] }, outDir: string) {
    // Usually every excluded id is present (the agent fetched before it pushed): try that first, and
    // filter out the missing ones only when git says an id is unknown. One process on the hot path.
    let run = await this.runPackObjects(gitDir, range.tips, range.exclude, outDir);
    if (run.code !== 0 && /bad object|bad revision/.test(run.stderr)) {
      const present = await hasObjects(gitDir, range.exclude);
      run = await this.runPackObjects(
        gitDir,
        range.tips,
        range.exclude.filter((oid) => present.has(oid)),
        outDir,
      );
    }
    if (run.code !== 0) throw new GitStoreError("pack-failed", `git pack-objects failed: ${run.stderr.trim()}`);
    const files = packFiles(outDir, `pack-${run.stdout.toString().trim()}`);
    const objectCount = await readPackObjectCount(files.packPath);
    if (objectCount === 0) {
      await Promise.all([rm(files.packPath, { force: true }), rm(files.idxPath, { force: true })]);
      return undefined;
    }
    return { ...files, objectCount };
  }

  private runPackObjects(gitDir: string, tips: readonly string[], exclude: readonly string[], outDir: string) {
    const revs = [...tips, ...exclude.map((oid) => `^${oid}`)];
    // No --thin: every delta base is inside the pack, so the pack stands alone in the bucket.
    return runGit(["pack-objects", "--revs", "--delta-base-offset", "-q", join(outDir, "pack")], {
      gitDir,
      input: `${revs.join("\n")}\n`,
      allowFailure: true,
    });
  }

  async indexPack(gitDir: string, packPath: string, options: { objectDir?: string; fsck?: boolean } = {}): Promise<PackFiles> {
    const idxPath = packPath.replace(/\.pack$/, ".idx");
    // --fsck-objects applies git's fsck rules to every object (hasDotdot, hasDotgit, fullPathname, …)
    // without requiring the objects it links to, which may be in another pack of the same fetch; but the
    // .gitattributes/.gitmodules blobs its trees name must be readable (here, or in `objectDir`).
    const run = await runGit(["index-pack", ...(options.fsck === false ? [] : ["--fsck-objects"]), "-o", idxPath, packPath], {
      gitDir,
      allowFailure: true,
      ...(options.objectDir ? { env: { GIT_ALTERNATE_OBJECT_DIRECTORIES: options.objectDir } } : {}),
    });
    if (run.code !== 0) {
      const errors = run.stderr.split("\n").filter((line) => line.startsWith("error: "));
      if (errors.length > 0 && errors.every((line) => /: (gitattributes|gitmodules)Missing: /.test(line))) {
        throw new GitStoreError(
          "blobs-outside-pack",
          `The pack ${basename(packPath)} names .gitattributes/.gitmodules blobs it does not hold: ${errors.join("; ")}`,
        );
      }
      const why = run.stderr.trim().split("\n").slice(0, 3).join("; ");
      const unsafe = /hasDot|fullPathname|zeroPaddedFilemode|badTree|emptyName/.test(why);
      throw new GitStoreError(
        unsafe ? "unsafe-tree-entry" : "corrupt-pack",
        `The pack ${basename(packPath)} was refused by git: ${why}. Nothing was changed locally.`,
      );
    }
    const summary = await verifyPackFile(packPath, basename(packPath));
    return { name: summary.name, packPath, idxPath, objectCount: summary.objectCount };
  }

  async missingObjects(gitDir: string, tips: readonly string[], extraObjectDir?: string): Promise<string[]> {
    if (tips.length === 0) return [];
    const run = await runGit(["rev-list", "--objects", "--quiet", "--stdin", "--not", "--all"], {
      gitDir,
      input: `${tips.join("\n")}\n`,
      allowFailure: true,
      ...(extraObjectDir ? { env: { GIT_ALTERNATE_OBJECT_DIRECTORIES: extraObjectDir } } : {}),
    });
    if (run.code === 0) return [];
    const ids = [...new Set(run.stderr.match(/[0-9a-f]{40}/g) ?? [])];
    return ids.length > 0 ? ids.slice(0, 5) : [run.stderr.trim()];
  }

  hasObjects(gitDir: string, oids: readonly string[]): Promise<Set<string>> {
    return hasObjects(gitDir, oids);
  }

  isAncestor(gitDir: string, ancestor: string, descendant: string): Promise<boolean> {
    return isAncestor(gitDir, ancestor, descendant);
  }

  resolveRef(gitDir: string, rev: string): Promise<string | undefined> {
    return resolveRef(gitDir, rev);
  }

  readRefs(gitDir: string, prefixes: readonly string[]): Promise<Map<string, string>> {
    return readRefs(gitDir, prefixes);
  }

  updateRefs(gitDir: string, updates: readonly { ref: string; oid: string | null }[]): Promise<void> {
    return updateRefs(gitDir, updates);
  }

  async combinePacks(packs: readonly PackFiles[], outDir: string): Promise<PackFiles> {
    const scratch = await mkdtemp(join(outDir, "combine-"));
    try {
      await initRepository(scratch, { bare: true });
      for (const pack of packs) {
        await link(pack.packPath, join(scratch, "objects", "pack", `${pack.name}.pack`));
        await link(pack.idxPath, join(scratch, "objects", "pack", `${pack.name}.idx`));
      }
      // Every object, reachable or not: a concurrent push may have published a pack whose ref is not
      // written yet. pack-objects reuses the deltas the packs already have.
      const all = await runGit(["cat-file", "--batch-all-objects", "--batch-check=%(objectname)"], { gitDir: scratch });
      const name = await gitText(["pack-objects", "--delta-base-offset", "-q", join(outDir, "pack")], {
        gitDir: scratch,
        input: all.stdout,
      });
      const files = packFiles(outDir, `pack-${name}`);
      const summary = await verifyPackFile(files.packPath, files.name);
      return { ...files, objectCount: summary.objectCount };
    } finally {
      await rm(scratch, { recursive: true, force: true });
    }
  }
}

function packFiles(dir: string, name: string) {
  return { name, packPath: join(dir, `${name}.pack`), idxPath: join(dir, `${name}.idx`) };
}
