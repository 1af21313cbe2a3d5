import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { variantOf } from "../../../../agent/history/conflicts.ts";
import { variantName } from "../../../../agent/sync/merge.ts";

describe("conflict variants", () => {
  it("finds the shared name of every variant name the merge makes", () => {
    for (const path of ["notes.txt", "dir/sub/photo.jpeg", "Makefile", ".bashrc", "a.b.c.tar", "dir/x.variant.txt"]) {
      const taken = new Map<string, unknown>();
      for (let i = 0; i < 3; i++) {
        const variant = variantName(path, "seed", taken);
        taken.set(variant, true);
        assert.equal(variantOf(variant), path, variant);
      }
    }
  });

  it("is not fooled by names that only look like variants", () => {
    for (const name of ["notes.txt", "a.variant-xyz.txt", "a.variant-12.txt", ".variant-abcd.txt", "dir.variant-abcd/file.txt"])
      assert.equal(variantOf(name), undefined, name);
  });
});
