import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, it } from "node:test";
import {
  checkIndexMatchesPack,
  GitStoreError,
  parseHeadFile,
  parseInfoPacks,
  parseInfoRefs,
  parsePackIndex,
  parseRefFile,
  readRefsIndexBody,
  trackingRefName,
  verifyPackFile,
  writeHeadFile,
  writeInfoPacks,
  writeInfoRefs,
  writePackedRefs,
  writeRefFile,
} from "../../../gitstore/index.ts";
import { tempDir } from "../../helpers/git.ts";

const A = "a".repeat(40);
const B = "b".repeat(40);

describe("git formats in the bucket", () => {
  it("ref files: one object id and a newline; anything else is a clear error", () => {
    assert.equal(writeRefFile(A), `${A}\n`);
    assert.equal(parseRefFile(`${A}\n`, "k"), A);
    assert.equal(parseRefFile(A, "k"), A);
    for (const garbage of ["", "hello\n", `${A}\n\n`, `ref: refs/heads/x\n`, A.toUpperCase(), `${A} extra`]) {
      assert.throws(
        () => parseRefFile(garbage, "repos/r.git/refs/heads/main"),
        (e: unknown) => {
          return e instanceof GitStoreError && e.code === "corrupt-ref" && e.message.includes("repos/r.git/refs/heads/main");
        },
      );
    }
    assert.throws(() => writeRefFile("nope"));
    assert.equal(parseHeadFile(writeHeadFile("refs/heads/main")), "refs/heads/main");
    assert.equal(parseHeadFile("garbage"), undefined);
  });

  it("objects/info/packs: round trip, duplicates dropped, bad lines refused", () => {
    const names = [`pack-${A}`, `pack-${B}`];
    assert.equal(writeInfoPacks(names), `P pack-${A}.pack\nP pack-${B}.pack\n\n`);
    assert.deepEqual(parseInfoPacks(writeInfoPacks(names), "k"), names);
    assert.deepEqual(parseInfoPacks(`P pack-${A}.pack\nP pack-${A}.pack\n`, "k"), [`pack-${A}`]);
    assert.deepEqual(parseInfoPacks("\n", "k"), []);
    for (const bad of ["P ../../etc/passwd.pack\n", `P pack-${A}.idx\n`, `X pack-${A}.pack\n`, "P pack-xyz.pack\n"]) {
      assert.throws(() => parseInfoPacks(bad, "k"), GitStoreError);
    }
  });

  it("info/refs: sorted, tab separated, as git update-server-info writes it", () => {
    const text = writeInfoRefs(
      new Map([
        ["refs/heads/main", A],
        ["refs/heads/git-annex", B],
      ]),
    );
    assert.equal(text, `${B}\trefs/heads/git-annex\n${A}\trefs/heads/main\n`);
    assert.deepEqual(
      parseInfoRefs(text),
      new Map([
        ["refs/heads/git-annex", B],
        ["refs/heads/main", A],
      ]),
    );
  });

  it("the refs index (info/refs) reads per ref: a line without an object id damages that ref only; a line naming no ref damages the list", () => {
    const index = readRefsIndexBody(`${A}\trefs/heads/main\ngarbage\trefs/synced/x/heads/main\n${B}\trefs/tags/v1^{}\n`, "info/refs");
    assert.deepEqual(index.refs, new Map([["refs/heads/main", A]]));
    assert.deepEqual([...index.corrupt.keys()], ["refs/synced/x/heads/main"]);
    assert.match(index.corrupt.get("refs/synced/x/heads/main")!.message, /does not hold an object id/);
    assert.throws(
      () => readRefsIndexBody(`<html>\n`, "info/refs"),
      (error: unknown) =>
        error instanceof GitStoreError &&
        error.code === "corrupt-ref" &&
        /<object id><tab><ref>/.test(error.message) &&
        // What it says to do must work: a forced push reads the list too, and is refused the same way.
        /Remove that line from the object/.test(error.message) &&
        !/Push with --force/.test(error.message),
    );
    assert.throws(() => readRefsIndexBody(`${A}\trefs/heads/a..b\n`, "info/refs"), GitStoreError);
    // packed-refs: what git reads in a copy on disk, `<oid> <ref>` per line.
    assert.equal(
      writePackedRefs(
        new Map([
          ["refs/heads/main", A],
          ["refs/heads/git-annex", B],
        ]),
      ),
      `${B} refs/heads/git-annex\n${A} refs/heads/main\n`,
    );
  });

  it("tracking refs: branches under refs/remotes/<remote>/, synced refs per agent", () => {
    assert.equal(trackingRefName("cloud", "refs/heads/main"), "refs/remotes/cloud/main");
    assert.equal(trackingRefName("cloud", "refs/tags/v1"), "refs/remotes/cloud/refs/tags/v1");
    const agent = "0f0e0d0c-0b0a-4908-8706-050403020100";
    assert.equal(trackingRefName("cloud", "refs/heads/git-annex", agent), `refs/remotes/cloud-synced/${agent}/git-annex`);
    assert.throws(() => trackingRefName("bad remote", "refs/heads/main"));
  });

  it("packs: header and trailing checksum; indexes: fan-out, count, checksums", async () => {
    const dir = await tempDir("pack-format");
    try {
      // The smallest valid pack: no objects.
      const header = Buffer.from([0x50, 0x41, 0x43, 0x4b, 0, 0, 0, 2, 0, 0, 0, 0]);
      const checksum = createHash("sha1").update(header).digest();
      const packPath = join(dir.path, "p.pack");
      await writeFile(packPath, Buffer.concat([header, checksum]));
      const pack = await verifyPackFile(packPath, "p");
      assert.deepEqual(pack, { name: `pack-${checksum.toString("hex")}`, checksum: checksum.toString("hex"), objectCount: 0 });

      const flipped = Buffer.concat([header, checksum]);
      flipped[11] = 1;
      await writeFile(packPath, flipped);
      await assert.rejects(verifyPackFile(packPath, "p"), /checksum does not match/);
      await writeFile(packPath, header);
      await assert.rejects(verifyPackFile(packPath, "p"), /shorter than any pack/);

      const idxBody = Buffer.concat([Buffer.from([0xff, 0x74, 0x4f, 0x63, 0, 0, 0, 2]), Buffer.alloc(256 * 4), checksum]);
      const idx = Buffer.concat([idxBody, createHash("sha1").update(idxBody).digest()]);
      const parsed = parsePackIndex(idx, "p.idx");
      assert.deepEqual(parsed, { objectCount: 0, packChecksum: checksum.toString("hex"), oids: [] });
      checkIndexMatchesPack(parsed, pack, "p");
      assert.throws(() => checkIndexMatchesPack({ ...parsed, objectCount: 3 }, pack, "p"), /lists 3 objects but the pack holds 0/);
      assert.throws(() => checkIndexMatchesPack({ ...parsed, packChecksum: A }, pack, "p"), /belongs to another pack/);
      const damaged = Buffer.from(idx);
      damaged[20] = 9;
      assert.throws(() => parsePackIndex(damaged, "p.idx"), /checksum does not match/);
      assert.throws(() => parsePackIndex(Buffer.from("nonsense"), "p.idx"), /not a version-2/);
    } finally {
      await dir.remove();
    }
  });
});

describe("the retired-packs list", () => {
  it("round trips names and times, with a header for a person reading it, and refuses bad lines", async () => {
    const { parseRetiredPacks, writeRetiredPacks } = await import("../../../gitstore/index.ts");
    const retired = new Map([[`pack-${"c".repeat(40)}`, new Date("2026-11-22T00:00:00.000Z")]]);
    const text = writeRetiredPacks(retired);
    assert.match(text, /^# Packs retired by cloudbridge compaction/);
    assert.deepEqual(parseRetiredPacks(text, "k"), retired);
    assert.deepEqual(parseRetiredPacks(writeRetiredPacks(new Map()), "k"), new Map());
    for (const bad of ["pack-x 2026-01-01T00:00:00Z\n", `pack-${"c".repeat(40)} yesterday\n`, `pack-${"c".repeat(40)}\n`]) {
      assert.throws(() => parseRetiredPacks(bad, "k"), GitStoreError);
    }
  });
});
