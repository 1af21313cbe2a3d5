import assert from "node:assert/strict";
import { readdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, it } from "node:test";
import { cliOk } from "../../helpers/agents.ts";
import { git } from "../../helpers/git.ts";
import { useAgentCloud } from "../../helpers/test-bed.ts";

/**
 * A machine that fetches a pack for every change another machine made does not keep one pack per change:
 * git's own housekeeping (`gc --auto`) runs after fetches that bring packs, so the repository stays packed
 * (here with git's pack limit lowered to 3, so a few changes cross it; by default it is 50).
 */
describe("an agent repository stays packed", () => {
  const bed = useAgentCloud("packs-kept-few");

  it("keeps the packs below git's limit however many changes it fetched", async () => {
    const env = bed.env;
    const url = "s3://cloudbridge/packed";
    const A = bed.path("a");
    const B = bed.path("b");
    await cliOk(["init", A, "--remote", url], env);
    await cliOk(["clone", url, B], env);
    // git's thresholds, lowered; in the foreground, so the count below is the one gc left.
    await git(B, "config", "gc.autoPackLimit", "3");
    await git(B, "config", "gc.autoDetach", "false");
    const CHANGES = 6;
    for (let i = 0; i < CHANGES; i += 1) {
      await writeFile(join(A, `change-${i}.txt`), `change ${i}\n`);
      await cliOk(["sync", A], env);
      await cliOk(["sync", B], env);
    }
    assert.equal((await git(B, "ls-files")).split("\n").filter((p) => p.startsWith("change-")).length, CHANGES, "every change arrived");
    const packs = (await readdir(join(B, ".git", "objects", "pack"))).filter((name) => name.endsWith(".pack"));
    assert.ok(packs.length <= 4, `${packs.length} packs after ${CHANGES} fetched changes: ${packs.join(", ")}`);
    assert.equal(await git(B, "fsck", "--no-progress", "--connectivity-only"), "", "nothing lost");
  });
});
