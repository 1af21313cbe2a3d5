/**
 * The one seam between cloudbridge and a git implementation. Native git (`native-engine.ts`) is the
 * agent's engine; isomorphic-git (`isomorphic-engine.ts`) runs where there is no git binary (Lambda).
 * Both pass the same tests (test/unit/git/engine.test.ts). Everything else — the bucket, refs, ordering,
 * verification of what comes from the bucket — is engine-independent and lives outside this interface.
 */
export interface PackFiles {
  /** `pack-<checksum>`, as git names packs. */
  name: string;
  packPath: string;
  idxPath: string;
  objectCount: number;
}

export interface GitEngine {
  readonly name: string;
  /**
   * Writes one self-contained (never thin) pack of the objects reachable from `tips` and not from
   * `exclude`, with its index, into `outDir`. Excluded ids the repository does not have are ignored.
   * Undefined when there is nothing to pack.
   */
  packObjects(
    gitDir: string,
    range: { tips: readonly string[]; exclude: readonly string[] },
    outDir: string,
  ): Promise<PackFiles | undefined>;
  /**
   * Checks a pack that came from elsewhere — checksum, every object well formed, no tree entry named
   * "", ".", "..", ".git" or containing "/", the content of .gitattributes/.gitmodules blobs its trees
   * name — and writes its index beside it. Objects it points to may be in other packs; connectivity is
   * `missingObjects`' job. `objectDir` is read too (other packs of the same fetch). A pack whose trees name
   * a .gitattributes/.gitmodules blob found nowhere throws `blobs-outside-pack` (verify-packs.ts decides);
   * with `fsck: false` only the pack's own integrity is checked (to make its objects readable).
   */
  indexPack(gitDir: string, packPath: string, options?: { objectDir?: string; fsck?: boolean }): Promise<PackFiles>;
  /**
   * Whether everything reachable from `tips` is present in `gitDir` plus the packs in `extraPackDir`.
   * Returns a few of the missing ids (empty when complete).
   */
  missingObjects(gitDir: string, tips: readonly string[], extraObjectDir?: string): Promise<string[]>;
  /** One pack holding every object of `packs` (each with its index), written into `outDir`. */
  combinePacks(packs: readonly PackFiles[], outDir: string): Promise<PackFiles>;
}
