import { matchesGlob } from "node:path";

/**
 * Which files are annexed (git-annex's annex.largefiles, simplified): a file is annexed when it matches an
 * `include` glob, or when it is at least `minSize` bytes, is not a dotfile (nor under a dot directory) and
 * matches no `exclude` glob. Everything else, small text and dotfiles included, stays in git.
 *
 * Per repository in git config: `cloudbridge.largefiles.minsize` (bytes, or with a unit: 512k, 10m, 1g),
 * `cloudbridge.largefiles.include` and `cloudbridge.largefiles.exclude` (multi-valued globs, matched
 * against the path from the work-tree root with "/" separators).
 */
export interface LargeFilesRule {
  readonly minSize: number;
  readonly include: readonly string[];
  readonly exclude: readonly string[];
}

export const DEFAULT_LARGE_FILES: LargeFilesRule = { minSize: 1024 * 1024, include: [], exclude: [] };

export function isLargeFile(path: string, size: number, rule: LargeFilesRule = DEFAULT_LARGE_FILES): boolean {
  const normalized = path.replaceAll("\\", "/").replace(/^\.\//, "");
  if (rule.include.some((glob) => matchesGlob(normalized, glob))) return true;
  if (rule.exclude.some((glob) => matchesGlob(normalized, glob))) return false;
  if (normalized.split("/").some((segment) => segment.startsWith("."))) return false;
  return size >= rule.minSize;
}

/** "1048576", "512k", "10M", "1g" → bytes. */
export function parseSize(text: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?\s*$/i.exec(text);
  if (!match) throw new Error(`${JSON.stringify(text)} is not a size: use bytes or a number with k, m, g or t (e.g. 10m).`);
  const unit = { "": 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 }[match[2]!.toLowerCase() as "" | "k" | "m" | "g" | "t"];
  return Math.round(Number(match[1]) * unit);
}

/** The rule from `git config --get-all` values (absent settings keep the defaults). */
export function largeFilesRuleFrom(config: { minsize?: string; include?: string[]; exclude?: string[] }): LargeFilesRule {
  return {
    minSize: config.minsize ? parseSize(config.minsize) : DEFAULT_LARGE_FILES.minSize,
    include: config.include ?? [],
    exclude: config.exclude ?? [],
  };
}
