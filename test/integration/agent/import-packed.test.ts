import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { mkdir, readdir, rm, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { cli, cliOk } from "../../helpers/agents.ts";
import { GIT_ENV } from "../../helpers/git.ts";
import { useAgentCloud } from "../../helpers/test-bed.ts";

const execFileAsync = promisify(execFile);
const MAIN = fileURLToPath(new URL("../../../agent/cli/main.ts", import.meta.url));
const FILES = 3_000;

/**
 * An import (`cloudbridge init` of a folder of thousands of files) writes their blobs as one pack, not a
 * loose object each, so no later `git gc` has them all to pack; what it makes is what git would make
 * (plain `git status` clean, `git fsck` clean, the bucket cloned by plain git over dumb HTTP holds the same
 * tree); and killed at any moment of its packing it loses nothing: run again, it carries on.
 */
describe("an import of thousands of files", () => {
  const bed = useAgentCloud("import-packed");

  /** A folder of FILES small files in 30 folders, some of them the same content. */
  const makeFolder = async (dir: string) => {
    for (let d = 0; d < 30; d++) {
      await mkdir(join(dir, `dir-${d}`), { recursive: true });
      await Promise.all(
        Array.from({ length: FILES / 30 }, (_, f) =>
          writeFile(join(dir, `dir-${d}`, `file-${f}.txt`), f % 10 === 0 ? "the same in many files\n" : `file ${d}/${f}\n`),
        ),
      );
    }
  };
  const gitEnv = () => ({ ...bed.env, ...GIT_ENV, PATH: `${resolve("bin")}:${bed.env.PATH}` });
  const git = async (cwd: string, ...args: string[]) =>
    (await execFileAsync("git", args, { cwd, env: gitEnv(), maxBuffer: 64 * 1024 * 1024, timeout: 120_000 })).stdout;

  /** What git and the bucket say of an imported folder: everything there, nothing loose, git agreeing. */
  const assertImported = async (dir: string, repo: string) => {
    const tracked = (await git(dir, "ls-files", "-z")).split("\0").filter(Boolean);
    assert.equal(tracked.length, FILES, "every file committed");
    assert.equal(await git(dir, "status", "--porcelain"), "", "plain git status agrees with the folder");
    assert.equal(await git(dir, "fsck", "--no-progress", "--strict"), "", "git fsck is clean");
    const leftovers = (await readdir(join(dir, ".git", "objects", "pack"))).filter((name) => name.startsWith("tmp_"));
    assert.deepEqual(leftovers, [], "no temporary pack left");
    // The bucket, read by plain git over dumb HTTP: the same tree.
    const copy = bed.path(`clone-of-${repo}`);
    await git(bed.path(""), "clone", "-q", `${bed.t.cloud.endpoint}/cloudbridge/repos/${repo}.git`, copy);
    assert.equal(await git(copy, "rev-parse", "HEAD^{tree}"), await git(dir, "rev-parse", "main^{tree}"));
    await rm(copy, { recursive: true, force: true });
  };

  it("leaves its blobs in a pack, not loose, and makes what git would make", async () => {
    const dir = bed.path("whole");
    await makeFolder(dir);
    await cliOk(["init", dir, "--remote", "s3://cloudbridge/whole"], bed.env);
    await assertImported(dir, "whole");
    const counts = Object.fromEntries(
      (await git(dir, "count-objects", "-v"))
        .trim()
        .split("\n")
        .map((line) => line.split(": ") as [string, string]),
    );
    // The loose ones are the trees, the commits and the git-annex branch's few files.
    assert.ok(Number(counts.count) < 100, `${counts.count} loose objects after importing ${FILES} files`);
    assert.ok(Number(counts["in-pack"]) >= FILES / 10, `${counts["in-pack"]} objects in packs`);
  });

  for (const moment of ["while it writes the pack", "once the pack is in place"] as const) {
    it(`killed ${moment}, loses nothing: run again, it carries on`, async () => {
      const name = moment === "while it writes the pack" ? "killed-writing" : "killed-placed";
      const dir = bed.path(name);
      const url = `s3://cloudbridge/${name}`;
      await makeFolder(dir);
      const child = spawn(process.execPath, ["--disable-warning=ExperimentalWarning", MAIN, "init", dir, "--remote", url], {
        env: bed.env,
        stdio: "ignore",
      });
      const exited = new Promise<void>((done) => child.once("exit", () => done()));
      const packDir = join(dir, ".git", "objects", "pack");
      const wanted = (names: string[]) =>
        moment === "while it writes the pack"
          ? names.some((n) => n.startsWith("tmp_pack_cloudbridge_"))
          : names.some((n) => n.startsWith("pack-") && n.endsWith(".idx"));
      let killedAlive = false;
      while (child.exitCode === null && child.signalCode === null) {
        if (wanted(await readdir(packDir).catch(() => []))) {
          killedAlive = child.kill("SIGKILL");
          break;
        }
        await new Promise((r) => setTimeout(r, 2));
      }
      await exited;
      assert.ok(killedAlive, `the import was killed ${moment} (it ended first)`);

      // Run again: init carries on an import that never reached the bucket; one that did is synced.
      const again = await cli(["init", dir, "--remote", url], bed.env);
      if (again.code !== 0) {
        assert.match(again.stderr, /already a cloudbridge folder/, again.stderr);
        await cliOk(["sync", dir], bed.env);
      }
      await assertImported(dir, name);
    });
  }
});
