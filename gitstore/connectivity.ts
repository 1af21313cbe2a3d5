import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { BlobReader, hasObjects } from "../localgit/index.ts";
import { parsePackIndex } from "./pack-format.ts";

/**
 * Whether what a fetch downloaded completes its tips, at the cost of what it downloaded. git's own check
 * (`rev-list --objects <tips> --not --all`) marks every object of every ref's tree as already had before it
 * walks the new ones: in a folder of 100,000 files that is 100,000 entries read for a one-file change (a
 * tenth of a second), the one step of a fetch that grew with the folder.
 *
 * Here the walk goes through the objects of the quarantined packs only (commits, trees and tags are read;
 * a blob only needs to be there). An object they name that is not in them must be in the repository, and
 * an object already in the repository is complete: everything in it came through this check or was made
 * here by git, which writes no tree or commit naming an object it lacks (the fetch's quick path, which
 * downloads nothing when every tip is here, stands on the same rule). Returns a few of the ids found
 * missing (or of the wrong type): empty when every tip is complete.
 */
export async function missingBeyondQuarantine(gitDir: string, tips: readonly string[], quarantine: string): Promise<string[]> {
  const fresh = await quarantinedObjects(quarantine);
  const outside = new Set<string>();
  const wrong: string[] = [];
  const reader = new BlobReader(gitDir, { env: { GIT_ALTERNATE_OBJECT_DIRECTORIES: quarantine } });
  try {
    const reached = new Set<string>();
    /** Objects to read, with the type the object naming them says they are (a tip: any of commit or tag). */
    let level: Array<{ oid: string; type: string | undefined }> = [];
    const reach = (oid: string, type: string | undefined) => {
      if (reached.has(oid)) return;
      reached.add(oid);
      if (!fresh.has(oid)) outside.add(oid);
      else if (type !== "blob") level.push({ oid, type });
    };
    for (const tip of tips) reach(tip, undefined);
    // One level at a time, every read of a level asked at once through the one process.
    while (level.length > 0) {
      const current = level;
      level = [];
      const objects = await Promise.all(current.map(({ oid }) => reader.readObject(oid)));
      current.forEach(({ oid, type }, i) => {
        const object = objects[i];
        if (!object || (type !== undefined && object.type !== type)) {
          wrong.push(oid);
          return;
        }
        for (const link of objectLinks(object.type, object.body)) reach(link.oid, link.type);
      });
    }
  } finally {
    await reader.close();
  }
  const present = await hasObjects(gitDir, [...outside]);
  return [...wrong, ...[...outside].filter((oid) => !present.has(oid))].slice(0, 5);
}

/** Every object id in the packs of `objectDir/pack` (their indexes, written by the fetch's own index-pack). */
async function quarantinedObjects(objectDir: string): Promise<Set<string>> {
  const names = (await readdir(join(objectDir, "pack")).catch(() => [])).filter((name) => name.endsWith(".idx"));
  const oids = new Set<string>();
  for (const name of names) for (const oid of parsePackIndex(await readFile(join(objectDir, "pack", name)), name).oids) oids.add(oid);
  return oids;
}

/** The objects a commit, tree or tag names, with the type it names them as (undefined: whatever a tag names). */
function* objectLinks(type: string, body: Buffer): Generator<{ oid: string; type: string | undefined }> {
  if (type === "tree") {
    let offset = 0;
    while (offset < body.length) {
      const space = body.indexOf(32, offset);
      const nul = body.indexOf(0, space);
      if (space < 0 || nul < 0 || nul + 21 > body.length) return; // malformed: index-pack's fsck refused it
      const mode = body.toString("latin1", offset, space);
      const oid = body.toString("hex", nul + 1, nul + 21);
      // A submodule's commit lives in another repository.
      if (mode !== "160000") yield { oid, type: mode === "40000" || mode === "040000" ? "tree" : "blob" };
      offset = nul + 21;
    }
    return;
  }
  if (type !== "commit" && type !== "tag") return;
  const end = body.indexOf("\n\n");
  const header = body.toString("latin1", 0, end < 0 ? body.length : end);
  for (const line of header.split("\n")) {
    const [key, value] = [line.slice(0, line.indexOf(" ")), line.slice(line.indexOf(" ") + 1)];
    if (type === "commit" && key === "tree") yield { oid: value, type: "tree" };
    else if (type === "commit" && key === "parent") yield { oid: value, type: "commit" };
    else if (type === "tag" && key === "object") yield { oid: value, type: undefined };
  }
}
