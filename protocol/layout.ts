import { assertAnnexKey } from "./annex-key.ts";
import { ProtocolError, quote } from "./errors.ts";
import { assertAgentId, assertRefName, assertRepoName, normalizePrefix } from "./names.ts";

/**
 * The bucket layout, format 3 (docs/architecture.md, "Bucket layout"). Every key the agent, the functions or a
 * person's tools read or write is built here, and every key that comes back from the bucket or from an
 * S3 event is parsed here, so the layout lives in one place.
 *
 * The format is one number that only grows, each adding what an older reader cannot read: format 2 added
 * `keys/<repo>/`, the key ring of an encrypted repository (docs/encryption.md); format 3 made `info/refs`
 * the repository's refs index (every ref in one object, moved by compare-and-swap, `packed-refs` beside it),
 * so `refs/` files are no longer written. Whether a repository is encrypted is its own (a key ring), not the
 * bucket's: a format 3 bucket holds clear and encrypted repositories alike. Repositories of format 1 and 2
 * buckets (refs as one file each under `refs/`) are read and moved into the index on first use.
 */
export const LAYOUT_FORMAT = 3;

/** Formats this code reads: 1 (clear repositories, refs as files), 2 (and encrypted ones), 3 (refs index). */
export const READABLE_LAYOUT_FORMATS: readonly number[] = [1, 2, 3];

const PACK_NAME = /^pack-[0-9a-f]{40}(?:[0-9a-f]{24})?\.(pack|idx)$/;

export class BucketLayout {
  /** "" or a normalized prefix ending in "/". */
  readonly prefix: string;

  constructor(prefix?: string) {
    this.prefix = normalizePrefix(prefix);
  }

  formatMarker(): string {
    return `${this.prefix}cloudbridge.json`;
  }

  readme(): string {
    return `${this.prefix}README.txt`;
  }

  /** `repos/`: every repository's git prefix is below it (a listing with delimiter "/" gives `repoRoot` of each). */
  reposRoot(): string {
    return `${this.prefix}repos/`;
  }

  /** The repository whose `repoRoot` this is (a common prefix of a listing of `reposRoot`), or undefined if it is none. */
  repoOfRoot(root: string): string | undefined {
    const name = root.startsWith(this.reposRoot()) && root.endsWith(".git/") ? root.slice(this.reposRoot().length, -".git/".length) : "";
    try {
      return this.repoRoot(name) === root ? name : undefined;
    } catch {
      return undefined;
    }
  }

  /** `repos/<repo>.git/`, always with the trailing "/" so a listing of `a` never matches `ab`. */
  repoRoot(repo: string): string {
    return `${this.prefix}repos/${assertRepoName(repo)}.git/`;
  }

  head(repo: string): string {
    return `${this.repoRoot(repo)}HEAD`;
  }

  /** git's `packed-refs`, a copy of the refs index for a copy of the repository on disk (format 3). */
  packedRefs(repo: string): string {
    return `${this.repoRoot(repo)}packed-refs`;
  }

  ref(repo: string, ref: string): string {
    return `${this.repoRoot(repo)}${assertRefName(ref)}`;
  }

  /**
   * An empty object named like a folder (`refs/`): format 3 keeps the refs in the index and `packed-refs`,
   * and git takes a folder for a repository only if it has `refs/`, so a copy on disk needs the folder.
   */
  refsFolder(repo: string): string {
    return `${this.repoRoot(repo)}refs/`;
  }

  /** The prefix of every ref file of a format 1 or 2 repository: list it to read them all (format 3 keeps them in `infoRefs`). */
  refsRoot(repo: string): string {
    return `${this.repoRoot(repo)}refs/`;
  }

  /** Ref `ref` as agent `agent` last pushed it: `refs/synced/<agent>/<ref without "refs/">`. */
  syncedRef(repo: string, agent: string, ref: string): string {
    return this.ref(repo, syncedRefName(agent, ref));
  }

  packsRoot(repo: string): string {
    return `${this.repoRoot(repo)}objects/pack/`;
  }

  pack(repo: string, fileName: string): string {
    if (!PACK_NAME.test(fileName)) {
      throw new ProtocolError("invalid-pack-name", `${quote(fileName)} is not a pack file name (pack-<sha>.pack|idx).`, fileName);
    }
    return `${this.packsRoot(repo)}${fileName}`;
  }

  infoPacks(repo: string): string {
    return `${this.repoRoot(repo)}objects/info/packs`;
  }

  /** cloudbridge's list of packs retired by compaction, deleted after a grace period (gitstore/retired-packs.ts). */
  retiredPacks(repo: string): string {
    return `${this.repoRoot(repo)}objects/info/cloudbridge-retired-packs`;
  }

  /** Which machine compacts an encrypted repository's packs right now (gitstore/compaction-lease.ts): against duplicate work only. */
  compactionLease(repo: string): string {
    return `${this.repoRoot(repo)}objects/info/cloudbridge-compaction-lease`;
  }

  /** The dumb-HTTP list of refs; from format 3 on also the refs index, the one object every ref lives in. */
  infoRefs(repo: string): string {
    return `${this.repoRoot(repo)}info/refs`;
  }

  annexRoot(repo: string): string {
    return `${this.prefix}annex/${assertRepoName(repo)}/`;
  }

  annexObject(repo: string, key: string): string {
    return `${this.annexRoot(repo)}${assertAnnexKey(key)}`;
  }

  annexUuid(repo: string): string {
    return `${this.annexRoot(repo)}annex-uuid`;
  }

  /** The key ring of an encrypted repository: its data keys, each wrapped for every machine that may read it. */
  keyring(repo: string): string {
    return `${this.keysRoot(repo)}keyring.json`;
  }

  keysRoot(repo: string): string {
    return `${this.prefix}keys/${assertRepoName(repo)}/`;
  }

  agentsRoot(repo: string): string {
    return `${this.prefix}agents/${assertRepoName(repo)}/`;
  }

  agent(repo: string, agent: string): string {
    return `${this.agentsRoot(repo)}${assertAgentId(agent)}.json`;
  }

  /**
   * What a key in the bucket is. Keys outside this deployment's prefix or outside the layout are
   * `{ kind: "other" }`; keys that sit where a layout key would but are malformed (a bad ref name, a
   * `..` segment) throw, because they can only come from a bug or from someone tampering with the bucket.
   */
  parse(key: string): ParsedKey {
    if (typeof key !== "string" || key.length === 0) {
      throw new ProtocolError("invalid-key", "The bucket key is empty.", key);
    }
    if (!key.startsWith(this.prefix)) return { kind: "other", key };
    const rest = key.slice(this.prefix.length);
    if (rest === "cloudbridge.json") return { kind: "format-marker" };
    if (rest === "README.txt") return { kind: "readme" };
    const [top, second, ...tail] = rest.split("/");
    if (second === undefined) return { kind: "other", key };
    const badKey = (why: string): never => {
      throw new ProtocolError("invalid-key", `The bucket key ${quote(key)} is not in the cloudbridge layout: ${why}.`, key);
    };
    if (top === "repos") {
      if (!second.endsWith(".git")) badKey('a repository directory must end in ".git"');
      const repo = assertRepoName(second.slice(0, -4));
      const path = tail.join("/");
      if (path === "HEAD") return { kind: "head", repo };
      if (path === "packed-refs") return { kind: "packed-refs", repo };
      if (path === "refs/") return { kind: "refs-folder", repo };
      if (path === "objects/info/packs") return { kind: "info-packs", repo };
      if (path === "info/refs") return { kind: "info-refs", repo };
      if (path === "objects/info/cloudbridge-retired-packs") return { kind: "retired-packs", repo };
      if (path === "objects/info/cloudbridge-compaction-lease") return { kind: "compaction-lease", repo };
      if (path.startsWith("objects/pack/")) {
        const file = path.slice("objects/pack/".length);
        if (!PACK_NAME.test(file)) badKey("not a pack or idx file name");
        return { kind: "pack", repo, file };
      }
      if (path.startsWith("refs/")) {
        const ref = assertRefName(path);
        const synced = parseSyncedRefName(ref);
        return synced ? { kind: "synced-ref", repo, agent: synced.agent, ref: synced.ref } : { kind: "ref", repo, ref };
      }
      return badKey("unknown path inside a repository");
    }
    if (top === "annex") {
      const repo = assertRepoName(second);
      if (tail.length !== 1) badKey("annexed content sits directly under annex/<repo>/");
      const name = tail[0]!;
      if (name === "annex-uuid") return { kind: "annex-uuid", repo };
      return { kind: "annex-object", repo, key: assertAnnexKey(name) };
    }
    if (top === "keys") {
      const repo = assertRepoName(second);
      if (tail.join("/") !== "keyring.json") badKey("a key ring is keys/<repo>/keyring.json");
      return { kind: "keyring", repo };
    }
    if (top === "agents") {
      const repo = assertRepoName(second);
      const file = tail.join("/");
      if (tail.length !== 1 || !file.endsWith(".json")) badKey("an agent record is agents/<repo>/<uuid>.json");
      return { kind: "agent", repo, agent: assertAgentId(file.slice(0, -5)) };
    }
    return { kind: "other", key };
  }
}

export type ParsedKey =
  | { kind: "format-marker" }
  | { kind: "readme" }
  | { kind: "head"; repo: string }
  | { kind: "packed-refs"; repo: string }
  | { kind: "refs-folder"; repo: string }
  | { kind: "ref"; repo: string; ref: string }
  | { kind: "synced-ref"; repo: string; agent: string; ref: string }
  | { kind: "pack"; repo: string; file: string }
  | { kind: "info-packs"; repo: string }
  | { kind: "info-refs"; repo: string }
  | { kind: "retired-packs"; repo: string }
  | { kind: "compaction-lease"; repo: string }
  | { kind: "annex-object"; repo: string; key: string }
  | { kind: "annex-uuid"; repo: string }
  | { kind: "agent"; repo: string; agent: string }
  | { kind: "keyring"; repo: string }
  | { kind: "other"; key: string };

const SYNCED = "refs/synced/";

/** `refs/heads/main` as agent A pushed it → `refs/synced/A/heads/main`. */
export function syncedRefName(agent: string, ref: string): string {
  assertRefName(ref);
  return `${SYNCED}${assertAgentId(agent)}/${ref.slice("refs/".length)}`;
}

/** The inverse of syncedRefName, or undefined for a ref that is not an agent's synced ref. */
export function parseSyncedRefName(ref: string): { agent: string; ref: string } | undefined {
  if (!ref.startsWith(SYNCED)) return undefined;
  const rest = ref.slice(SYNCED.length);
  const slash = rest.indexOf("/");
  if (slash < 0) {
    throw new ProtocolError("invalid-ref-name", `The synced ref ${quote(ref)} names no ref after the agent id.`, ref);
  }
  return { agent: assertAgentId(rest.slice(0, slash)), ref: assertRefName(`refs/${rest.slice(slash + 1)}`) };
}

/** The body of `cloudbridge.json`. */
export interface FormatMarker {
  format: number;
  createdBy: string;
  createdAt: string;
  conditionalWrites: boolean;
}
