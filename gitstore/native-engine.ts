import { link, mkdtemp, rename, rm } from "node:fs/promises";
import { basename, join } from "node:path";
import { missingBeyondQuarantine } from "./connectivity.ts";
import type { GitEngine, PackBegun, PackFiles, PackRange } from "./engine.ts";
import { GitStoreError } from "./errors.ts";
import { readPackObjectCount, verifyPackFile } from "./pack-format.ts";
import {
  gitText,
  hasObjects,
  initRepository,
  isAncestor,
  readRefs,
  resolveRef,
  runGit,
  startGit,
  updateRefs,
  type GitRun,
} from "../localgit/index.ts";

/** The git binary behind the engine seam: what the agent uses wherever git is installed. */
export class NativeGitEngine implements GitEngine {
  readonly name = "native";

  async packObjects(gitDir: string, range: PackRange, outDir: string) {
    const run = range.include?.length
      ? await this.packWithObjects(gitDir, range.tips, range.exclude, range.include, outDir)
      : await this.withPresentExcludes(gitDir, range.exclude, (exclude) => this.runPackObjects(gitDir, range.tips, exclude, outDir));
    if (run.code !== 0) throw new GitStoreError("pack-failed", `git pack-objects failed: ${run.stderr.trim()}`);
    return this.packMade(outDir, run.stdout.toString().trim());
  }

  /**
   * `git pack-objects --revs` started now, waiting for its revisions (git reads them all before it packs):
   * its fork and start-up overlap what the caller still waits for. The run given a range fails over to
   * packObjects (which says why git failed, and packs again without excluded ids this repository lacks);
   * `cancel` gives it no revisions, and it ends having written an empty pack into `outDir`.
   */
  beginPack(gitDir: string, outDir: string): PackBegun {
    const git = startGit(PACK_REVISIONS(outDir), { gitDir });
    const out: Buffer[] = [];
    git.stdout.on("data", (chunk: Buffer) => out.push(chunk));
    git.stdin.on("error", () => {}); // git may end before it reads its input: its exit code says so
    const closed = new Promise<number | null>((resolve) => git.once("close", resolve));
    let given = false;
    const give = (revisions: string) => {
      given = true;
      git.stdin.end(revisions);
      return closed;
    };
    return {
      pack: async (range) => {
        if (given || range.include?.length) return this.packObjects(gitDir, range, outDir);
        const code = await give(revisions(range.tips, range.exclude));
        return code === 0 ? this.packMade(outDir, Buffer.concat(out).toString().trim()) : this.packObjects(gitDir, range, outDir);
      },
      cancel: async () => {
        if (!given) await give("");
      },
    };
  }

  /** The pack pack-objects wrote into `outDir` and named (its checksum on stdout); undefined, and removed, when it holds nothing. */
  private async packMade(outDir: string, checksum: string): Promise<PackFiles | undefined> {
    const files = packFiles(outDir, `pack-${checksum}`);
    const objectCount = await readPackObjectCount(files.packPath);
    if (objectCount === 0) {
      await Promise.all([rm(files.packPath, { force: true }), rm(files.idxPath, { force: true })]);
      return undefined;
    }
    return { ...files, objectCount };
  }

  /**
   * Usually every excluded id is present (the agent fetched before it pushed): `run` tries that first, and
   * again without the missing ones only when git says an id is unknown. One process on the hot path.
   */
  private async withPresentExcludes(gitDir: string, exclude: readonly string[], run: (exclude: readonly string[]) => Promise<GitRun>) {
    const first = await run(exclude);
    if (first.code === 0 || !/bad object|bad revision/.test(first.stderr)) return first;
    const present = await hasObjects(gitDir, exclude);
    return run(exclude.filter((oid) => present.has(oid)));
  }

  /**
   * The range's objects with their paths (rev-list, so pack-objects pairs versions of a file for deltas),
   * then the included ones, to pack-objects as a plain list: given as revisions, those reachable from
   * `exclude` would be left out.
   */
  private async packWithObjects(
    gitDir: string,
    tips: readonly string[],
    exclude: readonly string[],
    include: readonly string[],
    outDir: string,
  ) {
    const listed = await this.withPresentExcludes(gitDir, exclude, (present) =>
      runGit(["rev-list", "--objects", "--stdin"], {
        gitDir,
        input: `${[...tips, ...present.map((oid) => `^${oid}`)].join("\n")}\n`,
        allowFailure: true,
      }),
    );
    if (listed.code !== 0) throw new GitStoreError("pack-failed", `git rev-list failed: ${listed.stderr.trim()}`);
    const lines = listed.stdout.toString().split("\n").filter(Boolean);
    const seen = new Set(lines.map((line) => line.slice(0, 40)));
    for (const oid of include) if (!seen.has(oid)) lines.push(oid);
    const run = await runGit(["pack-objects", "--delta-base-offset", "-q", join(outDir, "pack")], {
      gitDir,
      input: `${lines.join("\n")}\n`,
      allowFailure: true,
    });
    if (run.code !== 0 && /unable to read/.test(run.stderr)) {
      throw new GitStoreError("missing-objects", `The repository lacks objects it was asked to pack: ${run.stderr.trim()}`);
    }
    return run;
  }

  private runPackObjects(gitDir: string, tips: readonly string[], exclude: readonly string[], outDir: string) {
    return runGit(PACK_REVISIONS(outDir), { gitDir, input: revisions(tips, exclude), allowFailure: true });
  }

  async indexPack(gitDir: string, packPath: string, options: { objectDir?: string; fsck?: boolean } = {}): Promise<PackFiles> {
    const idxPath = packPath.replace(/\.pack$/, ".idx");
    // --fsck-objects applies git's fsck rules to every object (hasDotdot, hasDotgit, fullPathname, …)
    // without requiring the objects it links to, which may be in another pack of the same fetch; but the
    // .gitattributes/.gitmodules blobs its trees name must be readable (here, or in `objectDir`).
    // Written under another name and renamed once whole: the packs of one fetch are indexed side by side in
    // one quarantine, and a git reading that folder meanwhile must not meet a half-written index ("index file
    // … is too small", which took the place of the reasons git refused a pack for in what it said).
    const partialIdx = `${idxPath}.partial`;
    const run = await runGit(["index-pack", ...(options.fsck === false ? [] : ["--fsck-objects"]), "-o", partialIdx, packPath], {
      gitDir,
      allowFailure: true,
      ...(options.objectDir ? { env: { GIT_ALTERNATE_OBJECT_DIRECTORIES: options.objectDir } } : {}),
    });
    if (run.code === 0) await rename(partialIdx, idxPath);
    else await rm(partialIdx, { force: true });
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
    // What a fetch downloaded: walked alone, not against every object the refs already reach.
    if (extraObjectDir) return missingBeyondQuarantine(gitDir, tips, extraObjectDir);
    const run = await runGit(["rev-list", "--objects", "--quiet", "--stdin", "--not", "--all"], {
      gitDir,
      input: `${tips.join("\n")}\n`,
      allowFailure: true,
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

  /**
   * --no-reuse-delta, as `git repack -adf`: the deltas each push's pack chose among its own few objects are
   * computed again across the whole history (with them reused the merged pack stays about a fifth larger
   * than a clone's; bench/compaction-size.ts compares).
   */
  protected readonly combineOptions: readonly string[] = ["--no-reuse-delta"];

  /** What combinePacks feeds pack-objects: every object of the scratch repository, with paths. */
  protected combineInput(gitDir: string): Promise<Buffer> {
    return objectsWithPaths(gitDir);
  }

  async combinePacks(packs: readonly PackFiles[], outDir: string): Promise<PackFiles> {
    const scratch = await mkdtemp(join(outDir, "combine-"));
    try {
      await initRepository(scratch, { bare: true });
      for (const pack of packs) {
        await link(pack.packPath, join(scratch, "objects", "pack", `${pack.name}.pack`));
        await link(pack.idxPath, join(scratch, "objects", "pack", `${pack.name}.idx`));
      }
      const name = await gitText(["pack-objects", "--delta-base-offset", ...this.combineOptions, "-q", join(outDir, "pack")], {
        gitDir: scratch,
        input: await this.combineInput(scratch),
      });
      const files = packFiles(outDir, `pack-${name}`);
      const summary = await verifyPackFile(files.packPath, files.name);
      return { ...files, objectCount: summary.objectCount };
    } finally {
      await rm(scratch, { recursive: true, force: true });
    }
  }
}

/**
 * Every object of the repository, for pack-objects: the ones reachable from its commits with the path they
 * were found at, as `git repack` feeds it (pack-objects looks for delta bases among objects of the same
 * path first; without paths it pairs objects by size alone and a compacted pack is half again as large as
 * git's own), then the rest without a path — a concurrent push may have published a pack whose ref is not
 * written yet, and a merge of some of the packs holds objects whose commits are in others.
 */
async function objectsWithPaths(gitDir: string): Promise<Buffer> {
  const all = await gitText(["cat-file", "--batch-all-objects", "--batch-check=%(objectname) %(objecttype)"], { gitDir });
  const objects = all === "" ? [] : all.split("\n").map((line) => line.split(" ") as [string, string]);
  const commits = objects.filter(([, type]) => type === "commit").map(([oid]) => oid);
  // --no-walk: each commit's own tree, not its parents (which may be in packs not merged in this run);
  // --missing=allow-any: trees and blobs of those other packs are passed over, not an error.
  const walked =
    commits.length === 0
      ? ""
      : await gitText(["rev-list", "--objects", "--no-walk", "--missing=allow-any", "--stdin"], {
          gitDir,
          input: `${commits.join("\n")}\n`,
        });
  const held = new Set(objects.map(([oid]) => oid));
  const lines: string[] = [];
  for (const line of walked === "" ? [] : walked.split("\n")) {
    const oid = line.slice(0, 40);
    if (held.delete(oid)) lines.push(line);
  }
  for (const oid of held) lines.push(oid);
  return Buffer.from(`${lines.join("\n")}\n`);
}

/** pack-objects of the objects reachable from the revisions on its input; no --thin: every delta base is inside the pack, so the pack stands alone in the bucket. */
const PACK_REVISIONS = (outDir: string) => ["pack-objects", "--revs", "--delta-base-offset", "-q", join(outDir, "pack")];

/** pack-objects --revs's input: what is reachable from `tips` and not from `exclude`. */
function revisions(tips: readonly string[], exclude: readonly string[]): string {
  return `${[...tips, ...exclude.map((oid) => `^${oid}`)].join("\n")}\n`;
}

function packFiles(dir: string, name: string) {
  return { name, packPath: join(dir, `${name}.pack`), idxPath: join(dir, `${name}.idx`) };
}
