/**
 * The one seam between cloudbridge and a git implementation. Native git (`native-engine.ts`) is the
 * agent's engine; isomorphic-git (`isomorphic-engine.ts`) runs where there is no git binary (Lambda).
 * Both pass the same tests (test/unit/gitstore/engine.test.ts). Everything push and fetch ask of the
 * local repository goes through here, so a push with the portable engine never needs a git binary; the
 * bucket, ordering and verification of what comes from the bucket are engine-independent.
 */
export interface PackFiles {
  /** `pack-<checksum>`, as git names packs. */
  name: string;
  packPath: string;
  idxPath: string;
  objectCount: number;
}

export interface PackRange {
  tips: readonly string[];
  exclude: readonly string[];
  include?: readonly string[];
}

/** A pack begun before what it packs is known (GitEngine.beginPack). */
export interface PackBegun {
  /** The pack of `range`, as packObjects makes it (once; a second call, or one with `include`, is packObjects'). */
  pack(range: PackRange): Promise<PackFiles | undefined>;
  /** No pack after all: what was begun ends (anything it wrote is in its `outDir`, the caller's to remove). */
  cancel(): Promise<void>;
}

export interface GitEngine {
  readonly name: string;
  /**
   * Writes one self-contained (never thin) pack of the objects reachable from `tips` and not from
   * `exclude`, with its index, into `outDir`. Excluded ids the repository does not have are ignored.
   * `include`: object ids packed too, whether reachable from `exclude` or not (the objects of the bucket's
   * packs a push folds into its own); each must be in the repository, or it throws `missing-objects`.
   * Undefined when there is nothing to pack.
   */
  packObjects(gitDir: string, range: PackRange, outDir: string): Promise<PackFiles | undefined>;
  /**
   * packObjects begun before its range is known, where the engine gains by it (a git process started while
   * the caller waits); an engine without it has packObjects called when the range is known.
   */
  beginPack?(gitDir: string, outDir: string): PackBegun;
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
  /** Which of `oids` the repository has. */
  hasObjects(gitDir: string, oids: readonly string[]): Promise<Set<string>>;
  /** Whether commit `ancestor` is `descendant` or one of its ancestors; false when `ancestor` is not here. */
  isAncestor(gitDir: string, ancestor: string, descendant: string): Promise<boolean>;
  /** The object `rev` (a ref name or an id) names, unpeeled; undefined when it names nothing. */
  resolveRef(gitDir: string, rev: string): Promise<string | undefined>;
  /** Every local ref under `prefixes` (e.g. `refs/remotes/cloud/`): ref → object id. */
  readRefs(gitDir: string, prefixes: readonly string[]): Promise<Map<string, string>>;
  /** Moves (or deletes, with oid null) several local refs; native git does it as one transaction. */
  updateRefs(gitDir: string, updates: readonly { ref: string; oid: string | null }[]): Promise<void>;
}
