import { posix } from "node:path";
import { unrepresentableNameReason } from "../../localgit/index.ts";

/**
 * The hostile-tree checks: every path that comes out of a git tree (and so, possibly, from the bucket)
 * is checked here before the agent writes anything for it. A refused path is reported with a reason a
 * person can act on and is never written: no `..`, no absolute path, nothing inside `.git`, no name the
 * file system here cannot hold, no symlink that leads out of the folder.
 */
export type Platform = "linux" | "darwin" | "win32";

const WINDOWS_RESERVED = /^(con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³])(\..*)?$/i;
// eslint-disable-next-line no-control-regex -- control characters are what some file systems refuse
const WINDOWS_FORBIDDEN = /[<>:"|?*\x00-\x1f\\]/;
const MAX_NAME_BYTES = 255;

/** Why `path` (a "/"-separated tree path) must not be written under the folder, or undefined when it is fine. */
export function unsafePathReason(path: string, platform: Platform = currentPlatform()): string | undefined {
  if (path.length === 0) return "the path is empty";
  if (path.includes("\0")) return "the path contains a NUL byte";
  const encoding = unrepresentableNameReason(path);
  if (encoding) return encoding;
  if (path.startsWith("/")) return "it is an absolute path";
  if (platform === "win32" && (/^[A-Za-z]:/.test(path) || path.includes("\\"))) return "it is an absolute or backslash path on Windows";
  const segments = path.split("/");
  for (const segment of segments) {
    if (segment === "") return 'it has an empty path component ("//")';
    if (segment === "." || segment === "..") return `it contains a "${segment}" component, which would lead outside the folder`;
    if (isGitDirName(segment)) return 'it is inside ".git", where the repository itself lives';
    if (Buffer.byteLength(segment) > MAX_NAME_BYTES)
      return `the name "${segment.slice(0, 40)}…" is longer than ${MAX_NAME_BYTES} bytes, the limit of this file system`;
    if (platform === "win32") {
      if (WINDOWS_FORBIDDEN.test(segment)) return `the name ${JSON.stringify(segment)} contains a character Windows forbids`;
      if (WINDOWS_RESERVED.test(segment)) return `the name ${JSON.stringify(segment)} is reserved on Windows`;
      if (/[ .]$/.test(segment)) return `the name ${JSON.stringify(segment)} ends in a dot or space, which Windows drops`;
    }
    if (platform === "darwin" && segment.includes(":"))
      return `the name ${JSON.stringify(segment)} contains ":", which macOS file systems refuse`;
  }
  return undefined;
}

/**
 * Why a name made on this machine is not uploaded although this machine holds it: a control character (a
 * line break, a tab, an escape) in a file or folder name, which Windows cannot hold, git-annex refuses in
 * its logs and line-based tools (shell loops, `find | xargs`) split into two names. Other machines would be
 * left with a name they must refuse, so it is kept here and listed until it is renamed.
 */
export function unportableNameReason(name: string): string | undefined {
  // eslint-disable-next-line no-control-regex -- control characters are what is refused
  if (!/[\x00-\x1f\x7f]/.test(name)) return undefined;
  return `the name ${JSON.stringify(name)} holds a control character (a line break, a tab…), which Windows cannot hold and many tools split; rename it to sync it`;
}

/** `.git`, and the spellings a case-insensitive or Windows file system treats as `.git`. */
export function isGitDirName(segment: string): boolean {
  const lower = segment.toLowerCase().replace(/[ .]+$/, "");
  return lower === ".git" || lower === "git~1";
}

/**
 * Why a symlink at `linkPath` pointing at `target` must not be created, or undefined when the target
 * stays inside the folder (and out of `.git`).
 */
export function unsafeSymlinkReason(linkPath: string, target: string): string | undefined {
  if (target.length === 0) return "the symlink has an empty target";
  if (target.includes("\0")) return "the symlink target contains a NUL byte";
  if (posix.isAbsolute(target) || /^[A-Za-z]:[\\/]/.test(target) || target.startsWith("\\")) {
    return `the symlink points at the absolute path ${JSON.stringify(target)}, outside the folder`;
  }
  const resolved = posix.normalize(posix.join(posix.dirname(linkPath), target.replaceAll("\\", "/")));
  if (resolved === ".." || resolved.startsWith("../")) return `the symlink points at ${JSON.stringify(target)}, outside the folder`;
  if (resolved.split("/").some(isGitDirName)) return `the symlink points into ".git"`;
  return undefined;
}

export function currentPlatform(): Platform {
  return process.platform === "darwin" ? "darwin" : process.platform === "win32" ? "win32" : "linux";
}
