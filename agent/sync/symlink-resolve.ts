import { readlink } from "node:fs/promises";
import { join, posix } from "node:path";
import { isGitDirName } from "./safe-paths.ts";
import type { StatCache } from "./stat-cache.ts";

/**
 * Where a symlink leads, judged the way the kernel will follow it: component by component, through the
 * other symlinks of the folder. A link's text says little on its own: with `s -> .`, `up -> s/..` reads
 * as "the folder itself" but is the folder's parent, and `x -> s/s/../../secret` reads as "secret" but is
 * a file next to the folder. A link that leads outside the folder (or into `.git`) at any step is refused.
 */

/** The target of the symlink at a folder-relative path, or undefined when that path is not a symlink. */
export type LinkLookup = (path: string) => Promise<string | undefined>;

export interface LinkResolution {
  /** Why the link must not exist, or undefined when every step of it stays inside the folder. */
  reason?: string;
  /** The other symlinks followed on the way (folder-relative paths), in order. */
  via: string[];
}

/** Links followed before giving up, as Linux does (ELOOP after 40). */
const MAX_LINKS = 40;

export async function resolveSymlink(linkPath: string, target: string, lookup: LinkLookup): Promise<LinkResolution> {
  const via: string[] = [];
  if (isAbsoluteTarget(target)) {
    return { reason: `the symlink points at the absolute path ${JSON.stringify(target)}, outside the folder`, via };
  }
  const resolved: string[] = [];
  // The link's own folder is walked too: on disk it may be reached through a symlink.
  let pending = [...posix.dirname(linkPath).split("/"), ...target.replaceAll("\\", "/").split("/")];
  while (pending.length > 0) {
    const part = pending.shift()!;
    if (part === "" || part === ".") continue;
    if (part === "..") {
      if (resolved.length === 0) {
        const through = via.length > 0 ? ` through ${via.map((v) => JSON.stringify(v)).join(", ")}` : "";
        return { reason: `the symlink points at ${JSON.stringify(target)}, which resolves outside the folder${through}`, via };
      }
      resolved.pop();
      continue;
    }
    if (isGitDirName(part)) return { reason: `the symlink points into ".git"`, via };
    const path = [...resolved, part].join("/");
    const next = path === linkPath ? target : await lookup(path);
    if (next === undefined) {
      resolved.push(part);
      continue;
    }
    via.push(path);
    if (via.length > MAX_LINKS) return { reason: `the symlink goes through more than ${MAX_LINKS} symlinks (a loop?)`, via };
    if (isAbsoluteTarget(next)) {
      return { reason: `the symlink leads through ${JSON.stringify(path)} to the absolute path ${JSON.stringify(next)}`, via };
    }
    // A symlink's target is relative to the folder that holds the symlink: `resolved` as it stands.
    pending = [...next.replaceAll("\\", "/").split("/"), ...pending];
  }
  return { via };
}

/**
 * Which of the `incoming` symlinks (path → target; about to be written, or uploaded) must be refused,
 * with the reason: those that lead outside, and those through which a link already there would. Every link
 * is judged in the folder as it would be: incoming links not refused, and whatever `present` finds for
 * the rest (the links on disk); `alsoCheck` names links already there that a new one could turn outward
 * (`up -> s/..` is harmless until `s -> .` arrives). Refusing one link can change where others lead, so
 * the judgement is repeated until it stands.
 */
export async function outwardLinks(
  incoming: ReadonlyMap<string, string>,
  present: LinkLookup,
  alsoCheck: Iterable<string> = [],
): Promise<Map<string, string>> {
  const refused = new Map<string, string>();
  if (incoming.size === 0) return refused;
  const lookup: LinkLookup = async (path) => (incoming.has(path) && !refused.has(path) ? incoming.get(path) : present(path));
  const others = [...new Set(alsoCheck)].filter((path) => !incoming.has(path));
  for (let changed = true; changed;) {
    changed = false;
    for (const link of [...incoming.keys(), ...others]) {
      if (refused.has(link)) continue;
      const target = await lookup(link);
      if (target === undefined) continue;
      const { reason, via } = await resolveSymlink(link, target, lookup);
      if (reason === undefined) continue;
      // An incoming link that leads outside is refused itself; a link already there that an incoming one
      // turns outward makes that incoming one refused.
      for (const culprit of incoming.has(link) ? [link] : via) {
        if (!incoming.has(culprit) || refused.has(culprit)) continue;
        refused.set(culprit, culprit === link ? reason : `it would make the symlink ${JSON.stringify(link)} lead outside: ${reason}`);
        changed = true;
      }
    }
  }
  return refused;
}

function isAbsoluteTarget(target: string): boolean {
  return posix.isAbsolute(target) || /^[A-Za-z]:[\\/]/.test(target) || target.startsWith("\\");
}

/** The symlinks of the tree the stat cache stands for (read lazily: only when some link changed). */
export function* trackedSymlinks(cache: StatCache): Generator<string> {
  for (const [path, entry] of cache.entries.withMode("120000")) if (!entry.ghost) yield path;
}

/** The symlinks on disk under `root`, read when asked. */
export function diskLinks(root: string): LinkLookup {
  return async (path) => {
    try {
      return await readlink(join(root, path));
    } catch {
      return undefined; // not a symlink, or not there
    }
  };
}
