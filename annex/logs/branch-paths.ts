/**
 * Which paths another machine's git-annex branch may bring in. git-annex writes only its own log names
 * (`uuid.log`, `remote.log`, `<hash>/<hash>/<KEY>.log`, …): printable, UTF-8, relative. A name outside
 * that (a newline, a control character, `..`, bytes that are not UTF-8) was written by something else; it
 * is skipped, and reported, so that one such file never stops a merge for everyone.
 */
export function unsafeBranchPathReason(path: string): string | undefined {
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(path)) return "it holds a control character (a newline, a tab…)";
  if (path.includes("\uFFFD")) return "it is not valid UTF-8";
  if (path.startsWith("/") || path.split("/").some((part) => part === "" || part === "." || part === "..")) {
    return "it is not a plain relative path";
  }
  return undefined;
}
