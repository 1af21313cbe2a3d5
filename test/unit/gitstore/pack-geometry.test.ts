import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { FOLD_FAN_IN, packsToFold, type SizedPack } from "../../../gitstore/pack-geometry.ts";

const pack = (name: string, objects: number, bytes = objects * 100): SizedPack => ({ name, objects, bytes });

/** The bucket's packs after `pushes` pushes of `each` objects, each push folding what packsToFold says. */
function simulate(pushes: number, each: number, options: { fanIn?: number; maxBytes?: number } = {}) {
  let live: SizedPack[] = [];
  let reuploaded = 0;
  for (let i = 0; i < pushes; i++) {
    const folded = packsToFold(live, each, options);
    const gone = live.filter((p) => folded.includes(p.name));
    reuploaded += gone.reduce((sum, p) => sum + p.objects, 0);
    live = [...live.filter((p) => !folded.includes(p.name)), pack(`p${i}`, each + gone.reduce((sum, p) => sum + p.objects, 0))];
  }
  return { live, reuploaded };
}

describe("which packs a push folds into its own", () => {
  it("nothing until a tier is full; then the whole tier, and the tier above when the fold fills it", () => {
    const small = Array.from({ length: FOLD_FAN_IN - 2 }, (_, i) => pack(`s${i}`, 3));
    assert.deepEqual(packsToFold(small, 3), [], "one short of a full tier");
    const full = [...small, pack("s-last", 4)];
    assert.deepEqual(packsToFold(full, 3).sort(), full.map((p) => p.name).sort());
    // Seven packs of the next tier wait above: the fold (3 + 6·3 + 4 = 25 objects) reaches it and fills it.
    const above = Array.from({ length: FOLD_FAN_IN - 1 }, (_, i) => pack(`m${i}`, 40));
    assert.deepEqual(packsToFold([...full, ...above], 3).sort(), [...full, ...above].map((p) => p.name).sort());
    // A large pack of a higher tier is left alone.
    assert.deepEqual(packsToFold([...full, pack("base", 5000)], 3).sort(), full.map((p) => p.name).sort());
  });

  it("keeps the packs at most (fan-in − 1) a tier, and uploads each object again about once a tier", () => {
    const { live, reuploaded } = simulate(10_000, 4);
    // 40,000 objects: tiers up to 8⁵; at most 7 packs in each of 6 tiers.
    assert.ok(live.length <= (FOLD_FAN_IN - 1) * 6, `${live.length} packs`);
    assert.ok(reuploaded / 40_000 <= 6, `each object uploaded again ${reuploaded / 40_000} times`);
    assert.equal(
      live.reduce((sum, p) => sum + p.objects, 0),
      40_000,
    );
  });

  it("folds no more than maxBytes in one push: larger packs stay for compaction", () => {
    const tier = Array.from({ length: FOLD_FAN_IN - 1 }, (_, i) => pack(`big${i}`, 3, 300_000));
    assert.deepEqual(packsToFold(tier, 3, { maxBytes: 1_000_000 }), []);
    assert.equal(packsToFold(tier, 3, { maxBytes: 3_000_000 }).length, FOLD_FAN_IN - 1);
    const { live } = simulate(5_000, 4, { maxBytes: 50_000 });
    assert.ok(
      live.every((p) => p.objects * 100 <= 50_000 + 4 * 100),
      "no pack grew past what one fold may carry",
    );
  });
});
