import { lstat, rename, rm } from "node:fs/promises";
import { join, posix } from "node:path";
import type { Git } from "../../localgit/index.ts";
import { MAIN_REF, type LocalRepo } from "../sync/local-repo.ts";
import { unsafePathReason } from "../sync/safe-paths.ts";
import { HistoryError } from "./errors.ts";
import { fileVersions } from "./versions.ts";

/**
 * Conflicts as the merge leaves them: a file edited on two machines keeps the shared version at its name
 * and the other as `name.variant-XXXX.ext` beside it (sync/merge.ts). A conflict is such a pair in the
 * folder's current commit; it is resolved by keeping one of the two (the other is removed, and stays in
 * history) or both (the variant takes a plain name), after which the next round commits the result.
 */
export interface ConflictSide {
  path: string;
  date?: string;
  author?: string;
  agent?: string;
  size?: number;
}

export interface Conflict {
  /** The shared name: what the other machines had. */
  path: string;
  /** The variant: this side of the pair that lost the name. */
  variant: string;
  sides: [ConflictSide, ConflictSide];
}

export type Resolution = "keep-this" | "keep-both";

const VARIANT = /^(.*)\.variant-[0-9a-f]{4,32}(?:-[0-9a-f]{8})?(\.[^./]*)?$/;

/** The shared name of a variant (`a/n.variant-1f2e.txt` → `a/n.txt`), or undefined for any other name. */
export function variantOf(path: string): string | undefined {
  const dir = posix.dirname(path);
  const match = VARIANT.exec(posix.basename(path));
  if (!match || match[1] === "") return undefined;
  return `${dir === "." ? "" : `${dir}/`}${match[1]}${match[2] ?? ""}`;
}

export async function listConflicts(git: Git): Promise<Conflict[]> {
  const head = await git.revParse(MAIN_REF);
  if (!head) return [];
  const tree = await git.lsTree(head);
  const conflicts: Conflict[] = [];
  for (const variant of [...tree.keys()].sort()) {
    const path = variantOf(variant);
    if (!path || !tree.has(path)) continue;
    conflicts.push({ path, variant, sides: [await side(git, path), await side(git, variant)] });
  }
  return conflicts;
}

async function side(git: Git, path: string): Promise<ConflictSide> {
  const [latest] = await fileVersions(git, path, 1);
  if (!latest) return { path };
  return {
    path,
    date: latest.date,
    author: latest.author,
    agent: latest.agent,
    ...(latest.size !== undefined ? { size: latest.size } : {}),
  };
}

/**
 * Resolves the conflict `file` belongs to (either of its two names), in the folder's files: "keep-this"
 * keeps `file`'s content at the shared name and removes the other; "keep-both" gives the variant a plain
 * name (`name (2).ext`). Returns the paths changed, for the round that commits them.
 */
export async function resolveConflict(
  repo: LocalRepo,
  file: string,
  resolution: Resolution,
): Promise<{ conflict: Conflict; changed: string[] }> {
  const conflicts = await listConflicts(repo.git);
  const conflict = conflicts.find((c) => c.path === file || c.variant === file);
  if (!conflict) throw new HistoryError("not-a-conflict", `${file} is not part of a conflict: \`cloudbridge conflicts\` lists them.`);
  for (const path of [conflict.path, conflict.variant]) {
    const reason = unsafePathReason(path);
    if (reason) throw new HistoryError("cannot-restore", `${path} cannot be changed here: ${reason}`);
  }
  const abs = (path: string) => join(repo.root, path);
  return repo.lock.hold(async () => {
    await mustExist(abs(conflict.path), conflict.path);
    await mustExist(abs(conflict.variant), conflict.variant);
    if (resolution === "keep-both") {
      const name = await freeName(repo.root, conflict.path);
      await rename(abs(conflict.variant), abs(name));
      return { conflict, changed: [conflict.variant, name] };
    }
    if (file === conflict.variant) await rename(abs(conflict.variant), abs(conflict.path));
    else await rm(abs(conflict.variant));
    return { conflict, changed: [conflict.path, conflict.variant] };
  });
}

async function mustExist(path: string, name: string): Promise<void> {
  const stats = await lstat(path).catch(() => undefined);
  if (!stats?.isFile())
    throw new HistoryError(
      "cannot-restore",
      `${name} is not a file in the folder right now (moved or not downloaded yet?): nothing was changed.`,
    );
}

/** `dir/name (2).ext`, or the first free number after it. */
async function freeName(root: string, path: string): Promise<string> {
  const dir = posix.dirname(path);
  const base = posix.basename(path);
  const dot = base.lastIndexOf(".");
  const [stem, ext] = dot > 0 ? [base.slice(0, dot), base.slice(dot)] : [base, ""];
  for (let n = 2; ; n++) {
    const candidate = `${dir === "." ? "" : `${dir}/`}${stem} (${n})${ext}`;
    if (!(await lstat(join(root, candidate)).catch(() => undefined))) return candidate;
  }
}
