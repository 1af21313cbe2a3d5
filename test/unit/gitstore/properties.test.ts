import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { applyDelta, encodeDelta } from "../../../gitstore/delta-format.ts";
import { GitStoreError } from "../../../gitstore/errors.ts";
import { parseInfoPacks, writeInfoPacks } from "../../../gitstore/info-packs.ts";
import { parseInfoRefs, writeInfoRefs } from "../../../gitstore/info-refs.ts";
import { objectLinks, parseTree, type TreeEntry } from "../../../gitstore/object-format.ts";
import { checkIndexMatchesPack, parsePackIndex, verifyPackFile } from "../../../gitstore/pack-format.ts";
import { PackWriter } from "../../../gitstore/pack-writer.ts";
import { parseHeadFile, parseRefFile, writeHeadFile, writeRefFile } from "../../../gitstore/ref-file.ts";
import { parseRetiredPacks, writeRetiredPacks } from "../../../gitstore/retired-packs.ts";
import { assertRefName } from "../../../protocol/names.ts";
import { fc, hostile, hostileBytes, objectId, packBaseName, refName, returnsOrThrowsTyped, runs } from "../../helpers/arbitraries.ts";
import { git, gitInput, tempDir } from "../../helpers/git.ts";

const sha1 = (bytes: Uint8Array) => createHash("sha1").update(bytes).digest();
const ascii = (text: string) => new TextEncoder().encode(text);

/** A tree object's content, as git writes it: `<mode> <name>\0<20-byte id>` per entry. */
export function writeTree(entries: readonly TreeEntry[]): Buffer {
  return Buffer.concat(entries.flatMap((e) => [Buffer.from(`${e.mode} ${e.name}\0`), Buffer.from(e.oid, "hex")]));
}

/** A version-2 pack index listing `oids` (sorted, each once) for the pack with checksum `packChecksum`. */
export function writePackIndex(oids: readonly string[], packChecksum: string): Buffer {
  const sorted = [...new Set(oids)].sort();
  const fanout = Buffer.alloc(256 * 4);
  for (let byte = 0, i = 0; byte < 256; byte++) {
    while (i < sorted.length && parseInt(sorted[i]!.slice(0, 2), 16) <= byte) i++;
    fanout.writeUInt32BE(i, byte * 4);
  }
  const body = Buffer.concat([
    Buffer.from([0xff, 0x74, 0x4f, 0x63, 0, 0, 0, 2]),
    fanout,
    ...sorted.map((oid) => Buffer.from(oid, "hex")),
    Buffer.alloc(sorted.length * 4), // CRC32s (not read)
    Buffer.concat(sorted.map((_, i) => Buffer.from([0, 0, 0, 12 + i]))), // offsets (not read)
    Buffer.from(packChecksum, "hex"),
  ]);
  return Buffer.concat([body, sha1(body)]);
}

/** A pack file's bytes: header, any payload, SHA-1 trailer (verifyPackFile checks no more than that). */
function writePack(objectCount: number, payload: Uint8Array): Buffer {
  const header = Buffer.alloc(12);
  header.write("PACK", 0, "latin1");
  header.writeUInt32BE(2, 4);
  header.writeUInt32BE(objectCount, 8);
  const body = Buffer.concat([header, payload]);
  return Buffer.concat([body, sha1(body)]);
}

const treeName = fc
  .string({ unit: "grapheme", minLength: 1, maxLength: 20 })
  .filter((n) => !/[/\\\0]/.test(n) && n !== "." && n !== ".." && n.toLowerCase().replace(/[. ]+$/, "") !== ".git");
const treeEntry = fc.record({ mode: fc.constantFrom("100644", "100755", "120000", "40000", "160000"), name: treeName, oid: objectId });
const isoDate = fc.date({ min: new Date(-8.64e15), max: new Date(8.64e15), noInvalidDate: true });

describe("the test writers write what git writes", () => {
  it("a tree and a pack index from git itself are byte for byte what writeTree and writePackIndex make", async () => {
    const dir = await tempDir("props-git");
    try {
      await git(dir.path, "init", "--quiet", "--bare", ".");
      const blobs: string[] = [];
      for (let i = 0; i < 40; i++) blobs.push(await gitInput(dir.path, `blob ${i}\n`, "hash-object", "-w", "--stdin"));
      const entries = blobs.map((oid, i) => ({ mode: i % 2 ? "100755" : "100644", name: `f${String(i).padStart(2, "0")} é`, oid }));
      const tree = await gitInput(dir.path, entries.map((e) => `${e.mode} blob ${e.oid}\t${e.name}\n`).join(""), "mktree");
      assert.equal(sha1(Buffer.concat([Buffer.from(`tree ${writeTree(entries).length}\0`), writeTree(entries)])).toString("hex"), tree);
      assert.deepEqual(parseTree(writeTree(entries), tree), entries);
      const name = await gitInput(dir.path, [...blobs, tree].join("\n") + "\n", "pack-objects", "objects/pack/pack");
      const idx = await readFile(join(dir.path, "objects", "pack", `pack-${name}.idx`));
      const parsed = parsePackIndex(idx, "git.idx");
      const tables = 8 + 256 * 4 + 20 * parsed.objectCount;
      assert.deepEqual(parsed.oids, [...blobs, tree].sort());
      assert.deepEqual(writePackIndex(parsed.oids, parsed.packChecksum).subarray(0, tables), idx.subarray(0, tables));
    } finally {
      await dir.remove();
    }
  });
});

describe("property: ref files and HEAD", () => {
  it("parse(write(oid)) = oid; anything else is corrupt-ref, naming the key", () => {
    fc.assert(
      fc.property(objectId, (oid) => assert.equal(parseRefFile(writeRefFile(oid), "k"), oid)),
      runs,
    );
    fc.assert(
      fc.property(hostileBytes(objectId.map((oid) => ascii(`${oid}\n`))), (body) => {
        const oid = returnsOrThrowsTyped(() => parseRefFile(body, "repos/r.git/refs/heads/main"), GitStoreError, ["corrupt-ref"]);
        if (oid !== undefined) assert.equal(writeRefFile(oid).replace("\n", ""), body.toString().replace(/\n$/, ""));
      }),
      runs,
    );
  });

  it("HEAD: parse(write(ref)) = ref; anything that is not a valid ref is no HEAD (undefined), never a crash", () => {
    fc.assert(
      fc.property(refName, (ref) => assert.equal(parseHeadFile(writeHeadFile(ref)), ref)),
      runs,
    );
    fc.assert(
      fc.property(fc.oneof(hostile(refName.map(writeHeadFile)), fc.string({ unit: "binary" })), (body) => {
        const ref = parseHeadFile(body);
        if (ref !== undefined) assert.equal(assertRefName(ref), ref);
      }),
      runs,
    );
  });
});

describe("property: objects/info/packs, info/refs, the retired-pack list", () => {
  it("info/packs: parse(write(names)) = names, once each; anything else is corrupt-pack", () => {
    const names = fc.array(packBaseName, { maxLength: 20 });
    fc.assert(
      fc.property(names, (list) => assert.deepEqual(parseInfoPacks(writeInfoPacks(list), "k"), [...new Set(list)])),
      runs,
    );
    fc.assert(
      fc.property(hostile(names.map(writeInfoPacks)), (body) => {
        const parsed = returnsOrThrowsTyped(() => parseInfoPacks(body, "k"), GitStoreError, ["corrupt-pack"]);
        for (const name of parsed ?? []) assert.match(name, /^pack-[0-9a-f]{40}$/);
      }),
      runs,
    );
  });

  it("info/refs: parse(write(refs)) = refs; a line that is not `<oid>\\t<ref>` is corrupt-ref", () => {
    const refs = fc.array(fc.tuple(refName, objectId), { maxLength: 10 }).map((pairs) => new Map(pairs));
    fc.assert(
      fc.property(refs, (map) => assert.deepEqual(parseInfoRefs(writeInfoRefs(map)), map)),
      runs,
    );
    fc.assert(
      fc.property(hostile(refs.map(writeInfoRefs)), (body) => {
        const parsed = returnsOrThrowsTyped(() => parseInfoRefs(body), GitStoreError, ["corrupt-ref"]);
        for (const [ref, oid] of parsed ?? []) {
          assert.equal(assertRefName(ref), ref);
          assert.match(oid, /^[0-9a-f]{40}$/);
        }
      }),
      runs,
    );
  });

  it("retired packs: parse(write(list)) = list; anything else is corrupt-pack", () => {
    const retired = fc.array(fc.tuple(packBaseName, isoDate), { maxLength: 10 }).map((pairs) => new Map(pairs));
    fc.assert(
      fc.property(retired, (map) => assert.deepEqual(parseRetiredPacks(writeRetiredPacks(map), "k"), map)),
      runs,
    );
    fc.assert(
      fc.property(hostile(retired.map(writeRetiredPacks)), (body) => {
        const parsed = returnsOrThrowsTyped(() => parseRetiredPacks(body, "k"), GitStoreError, ["corrupt-pack"]);
        // Whatever is accepted was written by writeRetiredPacks: the same text comes back.
        if (parsed) assert.equal(writeRetiredPacks(parsed).split("\n").slice(1).join("\n"), bodyLines(body));
      }),
      runs,
    );
  });
});

/** The non-comment, non-empty lines of a retired-pack list, each once, last time wins (Map order). */
function bodyLines(body: string): string {
  const lines = new Map<string, string>();
  for (const line of body.split("\n")) if (line !== "" && !line.startsWith("#")) lines.set(line.split(" ")[0]!, line);
  return [...lines.values()].map((line) => `${line}\n`).join("");
}

describe("property: tree objects", () => {
  it("parse(write(entries)) = entries, and a walk follows every id except gitlinks", () => {
    fc.assert(
      fc.property(fc.array(treeEntry, { maxLength: 10 }), objectId, (entries, oid) => {
        const content = writeTree(entries);
        assert.deepEqual(
          parseTree(content, oid),
          entries.map((e) => ({ ...e })),
        );
        assert.deepEqual(
          objectLinks("tree", content, oid),
          entries.filter((e) => e.mode !== "160000").map((e) => e.oid),
        );
      }),
      runs,
    );
  });

  it("hostile trees: corrupt-pack or unsafe-tree-entry, and whatever parses writes back to the same bytes", () => {
    const tree = fc.array(treeEntry, { minLength: 1, maxLength: 5 }).map(writeTree);
    const unsafe = fc
      .tuple(fc.array(treeEntry, { maxLength: 3 }), fc.constantFrom(".git", ".GIT", ".git. ", "..", ".", "a/b", "a\\b", "Git"), objectId)
      .map(([entries, name, oid]) => writeTree([...entries, { mode: "40000", name, oid }]));
    fc.assert(
      fc.property(fc.oneof(hostileBytes(tree), unsafe), objectId, (content, oid) => {
        const entries = returnsOrThrowsTyped(() => parseTree(content, oid), GitStoreError, ["corrupt-pack", "unsafe-tree-entry"]);
        if (entries) assert.deepEqual(writeTree(entries), content, "no entry was read differently from how git reads it");
        const links = returnsOrThrowsTyped(() => objectLinks("tree", content, oid), GitStoreError, ["corrupt-pack", "unsafe-tree-entry"]);
        if (entries) assert.ok(links, "a tree that parses can be walked");
      }),
      runs,
    );
  });

  it("commits and tags: the walk follows tree, parent and object lines of the header only", () => {
    fc.assert(
      fc.property(objectId, fc.array(objectId, { maxLength: 3 }), fc.string({ unit: "binary" }), (tree, parents, message) => {
        const commit = `tree ${tree}\n${parents.map((p) => `parent ${p}\n`).join("")}author a <a> 1 +0000\n\n${message}\ntree ${"f".repeat(40)}\n`;
        assert.deepEqual(objectLinks("commit", ascii(commit), "c"), [tree, ...parents]);
      }),
      runs,
    );
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        for (const link of objectLinks("commit", bytes, "c")) assert.match(link, /^[0-9a-f]{40}$/);
      }),
      runs,
    );
  });
});

describe("property: packs and pack indexes", () => {
  let dir: string;
  before(async () => (dir = await mkdtemp(join(tmpdir(), "cloudbridge-props-"))));
  after(async () => rm(dir, { recursive: true, force: true }));

  it("index: parse(write(oids)) lists them sorted, once each; it matches its pack", () => {
    fc.assert(
      fc.property(fc.array(objectId, { maxLength: 50 }), objectId, (oids, checksum) => {
        const index = parsePackIndex(writePackIndex(oids, checksum), "x.idx");
        const sorted = [...new Set(oids)].sort();
        assert.deepEqual(index, { objectCount: sorted.length, packChecksum: checksum, oids: sorted });
        checkIndexMatchesPack(index, { name: `pack-${checksum}`, checksum, objectCount: sorted.length }, "x");
      }),
      runs,
    );
  });

  it("hostile indexes: corrupt-pack, never a crash, never a size read from the file trusted before the length", () => {
    const index = fc.tuple(fc.array(objectId, { maxLength: 20 }), objectId).map(([oids, checksum]) => writePackIndex(oids, checksum));
    // Bytes changed and the trailing checksum recomputed: what a writer who knows the format can forge.
    const forged = fc.tuple(index, fc.nat(), fc.integer({ min: 1, max: 255 })).map(([body, at, xor]) => {
      const copy = Buffer.from(body);
      copy[8 + (at % (copy.length - 28))]! ^= xor;
      copy.set(sha1(copy.subarray(0, copy.length - 20)), copy.length - 20);
      return copy;
    });
    fc.assert(
      fc.property(fc.oneof(hostileBytes(index), forged), (body) => {
        const parsed = returnsOrThrowsTyped(() => parsePackIndex(body, "x.idx"), GitStoreError, ["corrupt-pack"]);
        if (parsed) {
          // Header, fan-out table and ids are exactly what git would write for the ids read.
          const tables = 8 + 256 * 4 + 20 * parsed.objectCount;
          const rebuilt = writePackIndex(parsed.oids, parsed.packChecksum);
          assert.deepEqual(body.subarray(0, tables), rebuilt.subarray(0, tables));
        }
      }),
      runs,
    );
  });

  it("pack: verify(write(n, payload)) names it by its checksum; damaged files are corrupt-pack", async () => {
    await fc.assert(
      fc.asyncProperty(fc.nat({ max: 2 ** 32 - 1 }), fc.uint8Array({ maxLength: 200 }), async (count, payload) => {
        const bytes = writePack(count, payload);
        const path = join(dir, "p.pack");
        await writeFile(path, bytes);
        const checksum = bytes.subarray(bytes.length - 20).toString("hex");
        assert.deepEqual(await verifyPackFile(path, "p"), { name: `pack-${checksum}`, checksum, objectCount: count });
      }),
      { numRuns: Math.min(runs.numRuns, 100) },
    );
    const pack = fc.tuple(fc.nat(), fc.uint8Array({ maxLength: 100 })).map(([n, payload]) => writePack(n, payload));
    await fc.assert(
      fc.asyncProperty(hostileBytes(pack), async (bytes) => {
        const path = join(dir, "h.pack");
        await writeFile(path, bytes);
        try {
          const summary = await verifyPackFile(path, "h");
          assert.equal(summary.checksum, sha1(bytes.subarray(0, bytes.length - 20)).toString("hex"));
        } catch (error) {
          assert.ok(error instanceof GitStoreError && error.code === "corrupt-pack", String(error));
        }
      }),
      { numRuns: Math.min(runs.numRuns, 100) },
    );
  });
});

describe("property: git's delta format and packs with deltas", () => {
  let dir: string;
  before(async () => (dir = await mkdtemp(join(tmpdir(), "cloudbridge-props-delta-"))));
  after(async () => rm(dir, { recursive: true, force: true }));

  // A target made of runs of the base (moved, repeated) and new bytes: what an edited file is.
  const edited = fc
    .tuple(
      fc.uint8Array({ minLength: 0, maxLength: 3000 }),
      fc.array(fc.oneof(fc.tuple(fc.nat(), fc.nat({ max: 400 })), fc.uint8Array({ maxLength: 60 })), { maxLength: 20 }),
    )
    .map(([base, pieces]) => {
      const parts = pieces.map((piece) =>
        Array.isArray(piece) ? base.subarray(piece[0] % (base.length + 1), (piece[0] % (base.length + 1)) + piece[1]) : piece,
      );
      return { base, target: Buffer.concat(parts) };
    });

  it("apply(base, encode(base, target)) = target; a delta over its bound is undefined, never one longer than asked", () => {
    fc.assert(
      fc.property(edited, fc.nat({ max: 4000 }), ({ base, target }, bound) => {
        const delta = encodeDelta(base, target)!;
        assert.deepEqual(applyDelta(base, delta), Buffer.from(target));
        const bounded = encodeDelta(base, target, bound);
        if (bounded) {
          assert.ok(bounded.length <= bound);
          assert.deepEqual(applyDelta(base, bounded), Buffer.from(target));
        }
      }),
      runs,
    );
  });

  it("git reads a pack PackWriter wrote, whole objects and deltas (copies past 64 KiB, offsets past 16 MiB)", async () => {
    const base = Buffer.concat([randomBytes(17 * 1024 * 1024), Buffer.from("the end of the first version\n")]);
    const edits = [
      Buffer.concat([base.subarray(0, 100), Buffer.from("inserted"), base.subarray(100)]),
      Buffer.concat([base.subarray(16 * 1024 * 1024 + 7), base.subarray(0, 200_000)]),
      Buffer.from("short\n"),
    ];
    const bare = join(dir, "bare.git");
    await git(dir, "init", "-q", "--bare", bare);
    const path = join(bare, "objects", "pack", "incoming.pack");
    const writer = await PackWriter.create(path, 1 + edits.length);
    let previous = { at: await writer.whole("blob", base), content: base };
    for (const target of edits) {
      const delta = encodeDelta(previous.content, target);
      assert.ok(delta, "a delta is always found without a bound");
      assert.ok(delta.length < 300_000, `the delta of a mostly copied target is small (${delta.length} bytes)`);
      previous = { at: await writer.delta(previous.at, delta), content: target };
    }
    const checksum = await writer.finish();
    assert.equal((await verifyPackFile(path, "incoming")).checksum, checksum);
    // index-pack resolves every delta and hashes the result: the ids it lists are the objects' true ids.
    await git(bare, "index-pack", path);
    const listed = await gitInput(bare, await readFile(path.replace(/\.pack$/, ".idx")), "show-index");
    const oids = listed.split("\n").map((line) => line.split(" ")[1]);
    const blobId = (content: Buffer) => createHash("sha1").update(`blob ${content.length}\0`).update(content).digest("hex");
    assert.deepEqual(oids.sort(), [base, ...edits].map(blobId).sort());
  });
});

describe("counterexamples the properties found (each passed the parser before its fix)", () => {
  const Z = "0".repeat(40);
  const refused = (parse: () => unknown, code: string) =>
    assert.throws(parse, (e: unknown) => e instanceof GitStoreError && e.code === code);

  it("objects/info/packs is read in linear time: 50,000 packs (2.6 MB) took 70 s, one includes() per line", () => {
    const names = Array.from({ length: 50_000 }, (_, i) => `pack-${createHash("sha1").update(String(i)).digest("hex")}`);
    assert.equal(parseInfoPacks(writeInfoPacks(names), "k").length, 50_000);
  });

  it("HEAD naming an invalid ref is no HEAD", () => {
    for (const body of ["ref: refs/aaaaaaaaaaaa/\n", "ref: refs/heads/../../x\n", "ref: refs/heads/\u001b[2J\n"]) {
      assert.equal(parseHeadFile(body), undefined);
    }
  });

  it("info/refs: an invalid ref or a malformed line is corrupt-ref, not skipped; peeled tags are not refs", () => {
    refused(() => parseInfoRefs(`${Z}\trefs/..a/aaaaa\n`), "corrupt-ref");
    refused(() => parseInfoRefs(`${Z} refs/heads/main\n`), "corrupt-ref");
    assert.deepEqual(parseInfoRefs(`${Z}\trefs/tags/v1\n${"1".repeat(40)}\trefs/tags/v1^{}\n`), new Map([["refs/tags/v1", Z]]));
  });

  it("a retired-pack time that Date reads but writeRetiredPacks never writes is refused ('+0' was year 0: deleted at once)", () => {
    for (const when of ["+0", "1", "2026-11-28", "Sat Nov 28 2026"])
      refused(() => parseRetiredPacks(`pack-${Z} ${when}\n`, "k"), "corrupt-pack");
  });

  it("a tree entry whose mode is not octal is corrupt-pack (it was read across a NUL, as mode 'abc\\0…def')", () => {
    refused(() => parseTree(Buffer.from([195, ...ascii("100644  "), 0, ...Buffer.alloc(20)]), "t"), "corrupt-pack");
    refused(() => parseTree(Buffer.concat([ascii("abc\0"), Buffer.alloc(20), ascii("def 1\0"), Buffer.alloc(20, 1)]), "t"), "corrupt-pack");
  });

  it("tree names that are not UTF-8 are refused by parseTree (both read as 'x\\uFFFD') but still walked", () => {
    const tree = Buffer.concat([
      Buffer.from("100644 x\xff\0", "latin1"),
      Buffer.alloc(20),
      Buffer.from("100644 x\xfe\0", "latin1"),
      Buffer.alloc(20, 1),
    ]);
    refused(() => parseTree(tree, "t"), "unsafe-tree-entry");
    assert.deepEqual(objectLinks("tree", tree, "t"), [Z, "01".repeat(20)]);
  });

  it("'.git' as git's fsck sees it on NTFS and HFS+ is unsafe (git index-pack --fsck-objects refuses these too)", () => {
    for (const name of ["git~1", "GIT~1", ".g\u200cit", "\ufeff.git"]) {
      refused(() => objectLinks("tree", writeTree([{ mode: "40000", name, oid: Z }]), "t"), "unsafe-tree-entry");
    }
  });

  it("a pack index with a forged fan-out table or unsorted ids (checksum recomputed) is corrupt-pack", () => {
    const a = `00${"1".repeat(38)}`;
    const b = `ff${"2".repeat(38)}`;
    const forge = (edit: (body: Buffer) => void) => {
      const body = writePackIndex([a, b], Z);
      edit(body);
      body.set(sha1(body.subarray(0, body.length - 20)), body.length - 20);
      return body;
    };
    refused(
      () =>
        parsePackIndex(
          forge((body) => body.writeUInt32BE(0, 8)),
          "x.idx",
        ),
      "corrupt-pack",
    );
    refused(
      () =>
        parsePackIndex(
          forge((body) => {
            body.write(b, 8 + 1024, "hex");
            body.write(a, 8 + 1024 + 20, "hex");
          }),
          "x.idx",
        ),
      "corrupt-pack",
    );
  });
});
