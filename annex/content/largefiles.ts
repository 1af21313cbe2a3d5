import { matchesGlob } from "node:path";
import { parseAnnexKey } from "../../protocol/annex-key.ts";

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

/**
 * Whether a file's content goes to the annex: by this machine's rule, or because the file is annexed
 * already (`annexedAs`: the key its last committed or staged version names) and is still its key's size,
 * as git-annex keeps an unchanged annexed file annexed. Another machine's rule annexed it; content this
 * machine downloaded, then looked at again (a touch, a chmod, git's index naming it, a person's own
 * `git add` or `git status` through the clean filter), must not become a git blob by this machine's own
 * rule: that commit took the file out of the annex for every machine, and a checkout took the downloaded
 * content for a local edit. Content of another size is a new version, which the rule decides. The one
 * decision of both the agent's scan and the clean filter.
 */
export function goesToAnnex(path: string, size: number, rule: LargeFilesRule, annexedAs?: string): boolean {
  if (isLargeFile(path, size, rule)) return true;
  return annexedAs !== undefined && annexKeySize(annexedAs) === size;
}

/** The size a key records (every key the agent makes records one), or undefined for a key that does not. */
function annexKeySize(key: string): number | undefined {
  try {
    return parseAnnexKey(key).size;
  } catch {
    return undefined;
  }
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
