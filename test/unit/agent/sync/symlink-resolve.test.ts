import assert from "node:assert/strict";
import { mkdir, symlink } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { diskLinks, outwardLinks, resolveSymlink, type LinkLookup } from "../../../../agent/sync/symlink-resolve.ts";
import { tempDir } from "../../../helpers/git.ts";

const links =
  (map: Record<string, string>): LinkLookup =>
  async (path) =>
    map[path];

describe("symlinks judged by where they resolve", () => {
  it("keeps links that stay inside, whatever their text looks like", async () => {
    const tree = links({ s: ".", "d/up": "..", "d/e": "../d" });
    assert.deepEqual(await resolveSymlink("s", ".", tree), { via: [] });
    assert.equal((await resolveSymlink("d/up", "..", tree)).reason, undefined);
    assert.equal((await resolveSymlink("l", "d/e/../a", tree)).reason, undefined);
    assert.equal((await resolveSymlink("a/l", "../b/c", tree)).reason, undefined);
  });

  it("refuses links whose text stays inside but whose resolution does not", async () => {
    const tree = links({ s: ".", up: "s/.." });
    const up = await resolveSymlink("up", "s/..", tree);
    assert.match(up.reason!, /resolves outside the folder through "s"/);
    assert.deepEqual(up.via, ["s"]);
    const deep = await resolveSymlink("x", "s/s/../../home/victim/.ssh/id_rsa", tree);
    assert.match(deep.reason!, /outside the folder/);
    assert.deepEqual(deep.via, ["s", "s"]);
    // Through another link: `y -> up/etc` leads wherever `up` leads.
    assert.deepEqual((await resolveSymlink("y", "up/etc", tree)).via, ["up", "s"]);
    // Through a link to an absolute path.
    assert.match((await resolveSymlink("z", "abs/x", links({ abs: "/etc" }))).reason!, /through "abs" to the absolute path "\/etc"/);
    // Into .git by way of a link.
    assert.match((await resolveSymlink("g", "s/.git/config", tree)).reason!, /into "\.git"/);
    // A loop is refused rather than followed forever.
    assert.match((await resolveSymlink("a", "b", links({ a: "b", b: "a" }))).reason!, /more than 40 symlinks/);
  });

  it("refuses the incoming links that make a link lead outside, and only those", async () => {
    // `up -> s/..` arrived earlier and was harmless; `s -> .` now arrives and turns it outward.
    const onDisk = links({ up: "s/.." });
    const refused = await outwardLinks(new Map([["s", "."]]), onDisk, ["up"]);
    assert.deepEqual([...refused.keys()], ["s"]);
    assert.match(refused.get("s")!, /would make the symlink "up" lead outside/);
    // The same pair arriving together: the link that leads outside is refused, `s` on its own is fine.
    const both = await outwardLinks(
      new Map([
        ["s", "."],
        ["up", "s/.."],
        ["ok", "s/a"],
      ]),
      links({}),
    );
    assert.deepEqual([...both.keys()], ["up"]);
    assert.match(both.get("up")!, /resolves outside the folder through "s"/);
    // A link already outside on its own, not involving anything incoming, refuses nothing incoming.
    assert.equal((await outwardLinks(new Map([["ok", "a"]]), links({ mine: "/home/me" }), ["mine"])).size, 0);
  });

  describe("on disk", () => {
    let scratch: { path: string; remove(): Promise<void> };
    before(async () => {
      scratch = await tempDir("symlink-resolve");
      await mkdir(join(scratch.path, "d"));
      await symlink(".", join(scratch.path, "s"));
      await symlink("../s", join(scratch.path, "d", "t"));
    });
    after(async () => scratch.remove());

    it("follows the links already in the folder", async () => {
      const disk = diskLinks(scratch.path);
      assert.equal(await disk("d"), undefined);
      assert.equal(await disk("s"), ".");
      assert.deepEqual(await resolveSymlink("x", "d/t/d/t/..", disk), {
        reason: 'the symlink points at "d/t/d/t/..", which resolves outside the folder through "d/t", "s", "d/t", "s"',
        via: ["d/t", "s", "d/t", "s"],
      });
      assert.equal((await resolveSymlink("x", "d/t/d", disk)).reason, undefined);
    });
  });
});
