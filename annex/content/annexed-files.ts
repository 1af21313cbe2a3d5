import { runGit } from "../../gitstore/run-git.ts";
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
  const listing = (
    await runGit(["ls-files", "-z", "--stage", "--", ...(paths.length ? paths : ["."])], { gitDir, cwd: workTree })
  ).stdout.toString();
  const entries = listing
    .split("\0")
    .filter(Boolean)
    .map((line) => {
      const [info, path] = line.split("\t") as [string, string];
      const [mode, oid] = info.split(" ") as [string, string];
      return { mode, oid, path };
    });
  if (entries.length === 0) return [];
  const sizes = (
    await runGit(["cat-file", "--batch-check=%(objectname) %(objectsize)"], { gitDir, input: entries.map((e) => `${e.oid}\n`).join("") })
  ).stdout
    .toString()
    .split("\n")
    .filter(Boolean)
    .map((line) => Number(line.split(" ")[1]));
  const small = entries.filter((_, i) => (sizes[i] ?? Infinity) <= MAX_POINTER_SIZE);
  if (small.length === 0) return [];
  const { stdout: batch } = await runGit(["cat-file", "--batch"], { gitDir, input: small.map((e) => `${e.oid}\n`).join("") });
  const files: AnnexedFile[] = [];
  let offset = 0;
  for (const entry of small) {
    const headerEnd = batch.indexOf(0x0a, offset);
    const size = Number(batch.subarray(offset, headerEnd).toString().split(" ")[2]);
    const blob = batch.subarray(headerEnd + 1, headerEnd + 1 + size);
    offset = headerEnd + 1 + size + 1;
    const key = entry.mode === "120000" ? parseSymlinkTarget(blob.toString("utf8")) : parsePointer(blob);
    if (key) files.push({ path: entry.path, key, mode: entry.mode });
  }
  return files;
}
