import assert from "node:assert/strict";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, it } from "node:test";
import { refreshIndexStat } from "../../../../agent/sync/index-look.ts";
import { Git } from "../../../../localgit/index.ts";
import { git } from "../../../helpers/git.ts";
import { useTempDir } from "../../../helpers/test-bed.ts";

/**
 * After a sync guided by git's index, git records the stat fields of the files it named, and the entries
 * of files written within the racy window are put back without them (so the next look names them again).
 * Only those entries are read from the index and written again, whatever the folder's size, and their
 * names are taken literally (a name git would read as a pattern or as pathspec magic is one file).
 */
describe("git's index after a sync guided by it", () => {
  const scratch = useTempDir("index-look");

  it("puts back the young entries without stat fields, asking git for those entries only", async () => {
    const dir = join(scratch.path, "folder");
    await mkdir(join(dir, "sub"), { recursive: true });
    const names = ["a.txt", "b.txt", ":(exclude)odd*", "sub/c.txt", "sub/d.txt"];
    for (const name of names) await writeFile(join(dir, name), `${name}\n`);
    await git(dir, "init", "-q");
    await git(dir, "add", "--", ...names.map((name) => `:(literal)${name}`));
    const statOf = async (name: string) => /size: (\d+)/.exec(await git(dir, "ls-files", "--debug", "--", `:(literal)${name}`))?.[1];
    assert.equal(await statOf("b.txt"), "6", "git add recorded the stat fields");

    const repo = new Git(join(dir, ".git"));
    const asked: string[][] = [];
    const run = repo.run.bind(repo);
    repo.run = (args, options) => {
      asked.push(args);
      return run(args, options);
    };
    // Every file was written just now: those among the paths given are young.
    await refreshIndexStat(repo, dir, [], { paths: ["a.txt", ":(exclude)odd*", "sub"], before: Date.now(), racyWindowMs: 2000 });

    assert.equal(await statOf("a.txt"), "0", "put back without stat fields");
    assert.equal(await statOf(":(exclude)odd*"), "0", "the name is one file, not a pathspec");
    for (const name of ["b.txt", "sub/c.txt", "sub/d.txt"])
      assert.equal(await statOf(name), String(name.length + 1), `${name} keeps its fields`);
    const listed = asked.filter((args) => args[0] === "ls-files");
    assert.deepEqual(
      listed.map((args) => args.slice(args.indexOf("--") + 1)),
      [["a.txt", ":(exclude)odd*", "sub"]],
      "ls-files asked for the young paths only, not for the whole index",
    );
  });
});
