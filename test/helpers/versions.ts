import { createHash } from "node:crypto";
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { sha256eKey } from "../../protocol/annex-key.ts";

/**
 * Every version of every file the test wrote, as git would store it: a small file's blob id, or for an
 * annexed file the id of its pointer blob and its git-annex key. `missingFrom` lists the versions a
 * repository's history does not reach, so a test can assert that nothing anyone wrote was lost.
 */
export interface Version {
  path: string;
  blob: string;
  key?: string;
}

export function blobId(content: Buffer | string): string {
  const body = Buffer.from(content);
  return createHash("sha1").update(`blob ${body.length}\0`).update(body).digest("hex");
}

export function versionOf(path: string, content: Buffer, annexed: boolean): Version {
  if (!annexed) return { path, blob: blobId(content) };
  const key = sha256eKey(createHash("sha256").update(content).digest("hex"), content.length, path.split("/").pop()!);
  return { path, blob: blobId(`/annex/objects/${key}\n`), key };
}

/** Blob ids reachable from any ref of the repository at `dir`. */
export function reachableBlobs(dir: string): Set<string> {
  const out = execFileSync("git", ["rev-list", "--objects", "--all"], {
    env: { ...process.env, GIT_DIR: join(dir, ".git") },
    maxBuffer: 256 * 1024 * 1024,
  }).toString();
  return new Set(out.split("\n").map((line) => line.slice(0, 40)));
}

export function missingFrom(dir: string, versions: Iterable<Version>): Version[] {
  const reachable = reachableBlobs(dir);
  return [...versions].filter((v) => !reachable.has(v.blob));
}

/** The blob a path has in the tree of `ref` in the folder's repository, or undefined. */
export function blobAt(dir: string, ref: string, path: string): string | undefined {
  try {
    const out = execFileSync("git", ["ls-tree", "-z", ref, "--", path], { env: { ...process.env, GIT_DIR: join(dir, ".git") } }).toString();
    return out ? out.split(" ")[2]!.split("\t")[0] : undefined;
  } catch {
    return undefined;
  }
}

/** Whether some commit on `ref` added or removed blob `blob` (git log --find-object). */
export function inHistory(dir: string, ref: string, blob: string): boolean {
  try {
    const out = execFileSync("git", ["log", "-1", "--format=%H", `--find-object=${blob}`, ref], {
      env: { ...process.env, GIT_DIR: join(dir, ".git") },
      stdio: ["ignore", "pipe", "ignore"],
    }).toString();
    return out.trim().length > 0;
  } catch {
    return false;
  }
}
