import { readFileSync } from "node:fs";
import { join, posix } from "node:path";
import { createRequire } from "node:module";
import type * as IgnorePackage from "ignore";
import type { Ignore } from "ignore";

/**
 * Which paths of the folder are never synced, in gitignore syntax (matched by the `ignore` package, which
 * follows git's rules). From lowest to highest precedence, as git reads its own sources:
 *
 * 1. the defaults below: editor swap and backup files, OS litter;
 * 2. every `.gitignore` in the folder (a person who keeps `secret.env` out of git expects it out of the
 *    bucket too), each relative to its directory, a deeper one overriding a shallower one;
 * 3. every `.cloudbridgeignore`, which travels with the folder like any file and beats the `.gitignore` of
 *    its own directory, so `!build/` there syncs what git ignores.
 *
 * As in git, a rule keeps out only what is not tracked yet: a file already synced stays synced until it is
 * deleted (or removed by hand from the history), and a file that arrives from another machine is written.
 * Nothing below an ignored directory is looked at, so an ignored `node_modules/` costs one `readdir` entry.
 */
export const IGNORE_FILE = ".cloudbridgeignore";
const GITIGNORE = ".gitignore";

/** Litter no person means to sync (gitignore syntax; a `!pattern` in a `.cloudbridgeignore` takes one back). */
export const DEFAULT_IGNORES: readonly string[] = [
  // macOS
  ".DS_Store",
  "._*",
  ".Spotlight-V100/",
  ".Trashes/",
  ".fseventsd/",
  ".TemporaryItems/",
  // Windows
  "Thumbs.db",
  "ehthumbs.db",
  "desktop.ini",
  "$RECYCLE.BIN/",
  // Linux desktops
  ".directory",
  ".Trash-*/",
  // editors: vim swap files, Emacs backups and locks, LibreOffice and Microsoft Office lock files
  "*.swp",
  "*.swo",
  "*.swx",
  "*~",
  ".#*",
  "#*#",
  ".~lock.*#",
  "~$*",
];

/** Whether a name is one of the files that hold ignore rules (a change to it changes what is ignored). */
export function isIgnoreFileName(name: string): boolean {
  return name === IGNORE_FILE || name === GITIGNORE;
}

interface DirectoryRules {
  gitignore: Ignore | undefined;
  own: Ignore | undefined;
}

export class FolderIgnore {
  readonly root: string;
  private readonly ignoreCase = process.platform !== "linux";
  private defaultRules: Ignore | undefined;
  private readonly rules = new Map<string, DirectoryRules>();
  private readonly decided = new Map<string, boolean>();

  constructor(root: string) {
    this.root = root;
  }

  /** The rules every folder has, made at the first question (a scan that meets no new name asks none). */
  private get defaults(): Ignore {
    return (this.defaultRules ??= matcher(this.ignoreCase).add([...DEFAULT_IGNORES]));
  }

  /** Forgets the rules read so far (an ignore file may have changed): they are read again when next needed. */
  reset(): void {
    this.rules.clear();
    this.decided.clear();
  }

  /** Whether `path` ("/"-separated, relative to the folder) is ignored, itself or through a folder above it. */
  ignores(path: string, isDirectory: boolean): boolean {
    const parent = posix.dirname(path);
    if (parent !== "." && this.ignoresDirectory(parent)) return true;
    return isDirectory ? this.ignoresDirectory(path) : this.decide(path, false);
  }

  private ignoresDirectory(dir: string): boolean {
    let known = this.decided.get(dir);
    if (known === undefined) {
      const parent = posix.dirname(dir);
      known = (parent !== "." && this.ignoresDirectory(parent)) || this.decide(dir, true);
      this.decided.set(dir, known);
    }
    return known;
  }

  /** The path's own verdict: the most precedent rule set with a rule that matches it decides. */
  private decide(path: string, isDirectory: boolean): boolean {
    const dirs = [""];
    const parts = path.split("/");
    for (let i = 1; i < parts.length; i++) dirs.push(parts.slice(0, i).join("/"));
    for (let i = dirs.length - 1; i >= 0; i--) {
      const dir = dirs[i]!;
      const { gitignore, own } = this.rulesOf(dir);
      const rel = (dir === "" ? path : path.slice(dir.length + 1)) + (isDirectory ? "/" : "");
      for (const rules of [own, gitignore]) {
        const verdict = rules && test(rules, rel);
        if (verdict !== undefined) return verdict;
      }
    }
    return test(this.defaults, path + (isDirectory ? "/" : "")) ?? false;
  }

  private rulesOf(dir: string): DirectoryRules {
    let rules = this.rules.get(dir);
    if (!rules) {
      rules = { gitignore: this.read(dir, GITIGNORE), own: this.read(dir, IGNORE_FILE) };
      this.rules.set(dir, rules);
    }
    return rules;
  }

  private read(dir: string, name: string): Ignore | undefined {
    let text: string;
    try {
      text = readFileSync(join(this.root, dir, name), "utf8");
    } catch {
      return undefined; // absent, a folder, unreadable: no rules from it
    }
    return matcher(this.ignoreCase).add(text);
  }
}

let ignorePackage: typeof IgnorePackage.default | undefined;

/**
 * An empty set of rules. The `ignore` package is loaded at the first one, not with this module: a sync
 * with no daemon and nothing new to look at (git named no path) never asks whether a name is ignored.
 */
function matcher(ignoreCase: boolean): Ignore {
  ignorePackage ??= createRequire(import.meta.url)("ignore") as typeof IgnorePackage.default;
  return ignorePackage({ ignorecase: ignoreCase });
}

/** true: ignored, false: taken back by a `!` rule, undefined: no rule of this set matches. */
function test(rules: Ignore, rel: string): boolean | undefined {
  try {
    const { ignored, unignored } = rules.test(rel);
    return ignored ? true : unignored ? false : undefined;
  } catch {
    return undefined; // a name the matcher cannot take (it checks paths are relative): no rule matches it
  }
}
