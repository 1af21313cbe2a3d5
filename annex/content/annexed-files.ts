import { decodePath, objectSizes, readObjects, runGit } from "../../localgit/index.ts";
import { MAX_POINTER_SIZE, parsePointer, parseSymlinkTarget } from "./pointer.ts";

/**
 * The annexed files among `paths` (files or directories, relative to `workTree`), as git's index records
 * them: pointer blobs (unlocked files) and symlinks into .git/annex/objects (locked files, git-annex's
 * default). Files that are not annexed are skipped.
 */
export interface AnnexedFile {
  path: string;
  key: string;
  /** The file's mode in git (100644, 100755, 120000). */
  mode: string;
}

export async function annexedFiles(gitDir: string, workTree: string, paths: readonly string[]): Promise<AnnexedFile[]> {
  return (await indexedFiles(gitDir, workTree, paths)).filter((f): f is AnnexedFile => f.key !== undefined);
}

/** Every file git's index holds among `paths`, with its key when it is annexed (`whereis` answers for each). */
export interface IndexedFile {
  path: string;
  mode: string;
  key: string | undefined;
}

export async function indexedFiles(gitDir: string, workTree: string, paths: readonly string[]): Promise<IndexedFile[]> {
  const listing = (await runGit(["ls-files", "-z", "--stage", "--", ...(paths.length ? paths : ["."])], { gitDir, cwd: workTree })).stdout;
  const entries: Array<{ mode: string; oid: string; path: string }> = [];
  for (let start = 0; start < listing.length;) {
    const end = listing.indexOf(0, start);
    const record = listing.subarray(start, end < 0 ? listing.length : end);
    start = end < 0 ? listing.length : end + 1;
    const tab = record.indexOf(9);
    if (tab < 0) continue;
    const [mode, oid] = record.subarray(0, tab).toString().split(" ") as [string, string];
    entries.push({ mode, oid, path: decodePath(record.subarray(tab + 1)) });
  }
  if (entries.length === 0) return [];
  const keys = new Map<string, string>();
  const sizes = await objectSizes(
    gitDir,
    entries.map((e) => e.oid),
  );
  const small = entries.filter((_, i) => (sizes[i] ?? Infinity) <= MAX_POINTER_SIZE);
  const all = () => entries.map((e) => ({ path: e.path, mode: e.mode, key: keys.get(e.path) }));
  if (small.length === 0) return all();
  const blobs = await readObjects(
    gitDir,
    small.map((e) => e.oid),
  );
  small.forEach((entry, i) => {
    const blob = blobs[i];
    if (!blob) return;
    const key = entry.mode === "120000" ? parseSymlinkTarget(blob.toString("utf8")) : parsePointer(blob);
    if (key) keys.set(entry.path, key);
  });
  return all();
}
