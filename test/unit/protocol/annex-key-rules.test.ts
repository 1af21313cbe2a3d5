import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { describe, it } from "node:test";
import { hashDirLower, hashDirMixed, keyDigest, keyExtension, sha256eKey } from "../../../protocol/annex-key.ts";

const md5 = (text: string) => createHash("md5").update(text).digest();

describe("git-annex key rules", () => {
  it("keeps the extensions real git-annex 10.20230126 keeps (recorded from `git annex calckey --backend SHA256E`)", () => {
    const cases: Record<string, string> = {
      "a.tar.gz": ".tar.gz",
      "foo.JPG": ".JPG",
      ".bashrc": "",
      ".abc": "",
      "..gz": "",
      ".hidden.tar.gz": ".tar.gz",
      "x.y.z.w": ".z.w",
      "a.b.c.d": ".c.d",
      "sp ace.mp3": ".mp3",
      "long.jpeg": ".jpeg",
      "abc.a-b": "",
      noext: "",
      "a.tar.gz.longer": "",
      "é.txt": ".txt",
      "x.123456": "",
      "f..gz": ".gz",
      "x.tar.gz.": ".gz",
      "x.Ä": ".Ä",
      "x.ÄÄ": ".ÄÄ",
      "x.ÄÄÄ": "",
      "x.a b": "",
      "x.b_c.d.e": ".d.e",
      "A.B_C.d": ".d",
      "x.ab.c.tar.gz": ".tar.gz",
      "a.1.2": ".1.2",
      "dir.d/file": "",
      "x.$a": "",
    };
    for (const [name, extension] of Object.entries(cases)) assert.equal(keyExtension(name), extension, name);
  });

  it("builds SHA256E keys and reads back their digest", () => {
    const hash = createHash("sha256").update("hi\n").digest("hex");
    const key = sha256eKey(hash, 3, "notes/a.tar.gz");
    assert.equal(key, `SHA256E-s3--${hash}.tar.gz`);
    assert.deepEqual(keyDigest(key), { algorithm: "sha256", hex: hash });
    assert.equal(keyDigest("WORM-s3-m1--a.txt"), undefined);
    assert.deepEqual(keyDigest(`SHA1-s3--${"a".repeat(40)}`), { algorithm: "sha1", hex: "a".repeat(40) });
  });

  it("places keys where git-annex does (recorded from `git annex examinekey --format='${hashdirmixed} ${hashdirlower}'`)", () => {
    const k1 = "SHA256E-s2--8f434346648f6b96df89dda901c5176b10a6d83961dd3c1ac88b59b2dc327aa4.bin";
    const k2 = "SHA256E-s3--98ea6e4f216f2fb4b69fff9b3a44842c38686ca685f3f55dc48c5d3fb1107be4.tar.gz";
    assert.equal(hashDirMixed(k1, md5), "9p/71/");
    assert.equal(hashDirLower(k1, md5), "731/21c/");
    assert.equal(hashDirMixed(k2, md5), "k0/8x/");
    assert.equal(hashDirLower(k2, md5), "80d/3a0/");
    assert.equal(hashDirLower(k2.replace("-s3--", "-s3-S1-C2--"), md5), "80d/3a0/", "chunk fields do not move a key");
  });
});
