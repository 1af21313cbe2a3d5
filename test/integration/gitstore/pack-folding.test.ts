import assert from "node:assert/strict";
import { copyFile, mkdir } from "node:fs/promises";
import { join } from "node:path";
import { describe, it } from "node:test";
import type { ObjectStore } from "../../../objectstore/object-store.ts";
import { fetchRefs, NativeGitEngine, push, readInfoPacks } from "../../../gitstore/index.ts";
import { FOLD_FAN_IN } from "../../../gitstore/pack-geometry.ts";
import { git, importCommits } from "../../helpers/git.ts";
import { useGitCloud } from "../../helpers/git-cloud.ts";

const PUSHES = 150;

describe("pushes fold the bucket's small packs into their own", () => {
  const bed = useGitCloud("git-pack-folding");
  const { clone, layout } = bed;

  it(`${PUSHES} one-file pushes keep objects/info/packs short; plain git, a fresh clone and a reader of an older list all get the whole history`, async () => {
    const a = await clone("folded");
    await importCommits(a.dir, "main", PUSHES, (i) => ({ [`notes/${i % 10}.txt`]: `note ${i}\n` }));
    const commits = (await git(a.dir, "rev-list", "--reverse", "main")).split("\n");
    let most = 0;
    let listBytes = 0;
    let earlier: { refs: Buffer; packs: Buffer } | undefined;
    for (const [i, oid] of commits.entries()) {
      await push({ ...a, updates: [{ ref: "refs/heads/main", oid }] });
      const list = await bed.store.get(layout.infoPacks("folded"));
      assert.ok(list && list !== "not-modified");
      most = Math.max(most, (await readInfoPacks(bed.store, layout, "folded")).length);
      listBytes = Math.max(listBytes, list.size);
      if (i === 20) {
        const refs = await bed.store.get(layout.infoRefs("folded"));
        assert.ok(refs && refs !== "not-modified");
        earlier = { refs: refs.body, packs: list.body };
      }
    }
    // About 4 objects a push, 600 in all: tiers of 1–7, 8–63 and 64–511 objects, at most 7 packs each
    // (one pack per push listed 150, 7.8 KB rewritten by every push).
    assert.ok(most <= (FOLD_FAN_IN - 1) * 3, `at most ${most} packs listed at once`);
    assert.ok(listBytes <= (FOLD_FAN_IN - 1) * 3 * 52 + 1, `objects/info/packs reached ${listBytes} bytes`);

    // Plain git over dumb HTTP reads the list and every pack in it.
    const plain = bed.path("plain");
    await git(bed.work, "clone", "-q", `${bed.t.cloud.endpoint}/${bed.t.cloud.bucket}/repos/folded.git`, plain);
    assert.equal(await git(plain, "rev-parse", "HEAD"), commits.at(-1));
    assert.equal(await git(plain, "rev-list", "--count", "HEAD"), String(PUSHES));
    await git(plain, "fsck", "--strict", "--no-dangling");

    const fresh = await clone("folded");
    await fetchRefs(fresh);
    assert.equal(await git(fresh.dir, "rev-parse", "refs/remotes/cloud/main"), commits.at(-1));
    await git(fresh.dir, "fsck", "--strict", "--no-dangling");

    // A reader that read the refs and the list just before later pushes folded its packs away still
    // finds every pack it listed: a folded pack is unlisted, never deleted by a push.
    const stale: ObjectStore = Object.assign(Object.create(bed.store) as ObjectStore, {
      get: async (key: string, options?: { ifNoneMatch?: string }) => {
        const result = await bed.store.get(key, options);
        if (!result || result === "not-modified") return result;
        if (key === layout.infoRefs("folded")) return { ...result, body: earlier!.refs, etag: "stale-refs" };
        if (key === layout.infoPacks("folded")) return { ...result, body: earlier!.packs, etag: "stale-packs" };
        return result;
      },
    });
    const listed = new Set((await readInfoPacks(bed.store, layout, "folded")).map(String));
    const before = earlier!.packs.toString();
    assert.ok(
      before.split("\n").some((line) => line.startsWith("P ") && !listed.has(line.slice(2, -5))),
      "packs listed then were folded since",
    );
    const slow = await clone("folded", stale);
    await fetchRefs(slow);
    assert.equal(await git(slow.dir, "rev-parse", "refs/remotes/cloud/main"), commits[20]);
    await git(slow.dir, "fsck", "--strict", "--no-dangling");
  });

  it("a machine that fetched another's packs folds them too; one whose objects it lacks stays listed", async () => {
    const a = await clone("two");
    await importCommits(a.dir, "main", FOLD_FAN_IN - 1, (i) => ({ [`a/${i}.txt`]: `from a ${i}\n` }));
    for (const oid of (await git(a.dir, "rev-list", "--reverse", "main")).split("\n"))
      await push({ ...a, updates: [{ ref: "refs/heads/main", oid }] });
    assert.equal((await readInfoPacks(bed.store, layout, "two")).length, FOLD_FAN_IN - 1);

    const b = await clone("two");
    await fetchRefs(b);
    await git(b.dir, "checkout", "-q", "-B", "main", "refs/remotes/cloud/main");
    const tip = await importCommits(b.dir, "main", 1, () => ({ "b.txt": "from b\n" }));
    const pushed = await push({ ...b, updates: [{ ref: "refs/heads/main", oid: tip }] });
    assert.equal(pushed.packsUploaded, 1);
    const live = await readInfoPacks(bed.store, layout, "two");
    assert.equal(live.length, 1, "b folded a's seven packs into its own");

    // Eight more packs (as an older cloudbridge pushes: one each); b fetches them, but one of them, as far
    // as b knows, holds objects b does not have (git pruned them, say): b folds the other seven only.
    await fetchRefs(a);
    await git(a.dir, "update-ref", "refs/heads/main", tip);
    const more = await importCommits(a.dir, "main", FOLD_FAN_IN, (i) => ({ [`a/more-${i}.txt`]: `more ${i}\n` }));
    for (const oid of (await git(a.dir, "rev-list", "--reverse", `${tip}..${more}`)).split("\n"))
      await push({ ...a, updates: [{ ref: "refs/heads/main", oid }], foldPacks: false });
    await fetchRefs(b);
    await git(b.dir, "merge", "-q", "--ff-only", "refs/remotes/cloud/main");
    const older = (await readInfoPacks(bed.store, layout, "two")).filter((name) => name !== live[0]);
    assert.equal(older.length, FOLD_FAN_IN);
    const unrelated = await clone("elsewhere");
    const out = bed.path("stranger");
    await mkdir(out);
    const stranger = await new NativeGitEngine().packObjects(
      unrelated.gitDir,
      { tips: [await importCommits(unrelated.dir, "main", 1, () => ({ "x.txt": "x\n" }))], exclude: [] },
      out,
    );
    await copyFile(stranger!.idxPath, join(b.gitDir, "cloudbridge", "bucket-packs", `${older[0]}.idx`));
    const last = await importCommits(b.dir, "main", 1, () => ({ "b.txt": "from b again\n" }));
    await push({ ...b, updates: [{ ref: "refs/heads/main", oid: last }] });
    const after = await readInfoPacks(bed.store, layout, "two");
    assert.equal(after.length, 3, "the first fold, the pack b could not fold, and b's pack with the other seven");
    assert.ok(after.includes(older[0]!));

    const fresh = await clone("two");
    await fetchRefs(fresh);
    assert.equal(await git(fresh.dir, "rev-list", "--count", "refs/remotes/cloud/main"), String(2 * FOLD_FAN_IN + 1));
    await git(fresh.dir, "fsck", "--strict", "--no-dangling");
  });
});
