import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdir, readdir, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { tempDir } from "../../helpers/git.ts";

const run = promisify(execFile);
const LOADER = fileURLToPath(new URL("../../../bin/run-bundle.cjs", import.meta.url));

/**
 * bin/run-bundle.cjs runs a bundle as `node BUNDLE ARGS` would (its main module, its arguments, its exit code,
 * its own file's name and folder), from a code cache it makes at the end of the first run and reuses after:
 * one named by the bundle's content, so a bundle rebuilt to the same length (all V8 itself checks) runs its
 * own code; a damaged cache costs only its compilation.
 */
describe("bin/run-bundle.cjs", () => {
  let work: { path: string; remove(): Promise<void> };
  const bundle = () => join(work.path, "dist", "tool.cjs");
  const cacheDir = () => join(work.path, "cache");
  /** A bundle that says which it is, how it was run, and calls a function (compiled during the run). */
  const bundleSaying = (word: string) =>
    `"use strict";
function say(word) { return word + " " + process.argv.slice(2).join(" "); }
console.log(say(${JSON.stringify(word)}), require.main === module, __filename === process.argv[1], require("node:path").basename(__dirname));
process.exitCode = 3;
`;
  const runIt = (env: NodeJS.ProcessEnv = { NODE_COMPILE_CACHE: cacheDir() }) =>
    run(process.execPath, [LOADER, bundle(), "sync", "x"], { env: { PATH: process.env.PATH, ...env } }).then(
      () => assert.fail("exit code 3 expected"),
      (error: { code: number; stdout: string }) => ({ code: error.code, stdout: error.stdout.trim() }),
    );
  const cacheFiles = async () => readdir(join(cacheDir(), "bundles")).catch(() => [] as string[]);

  before(async () => {
    work = await tempDir("run-bundle");
    await mkdir(join(work.path, "dist"));
  });
  after(async () => work.remove());

  it("runs the bundle as its program, and keeps the code cache made by its first run", async () => {
    await writeFile(bundle(), bundleSaying("one"));
    assert.deepEqual(await runIt(), { code: 3, stdout: "one sync x true true dist" });
    const [cache, ...more] = await cacheFiles();
    assert.ok(cache !== undefined && more.length === 0, "one cache");
    const made = await stat(join(cacheDir(), "bundles", cache));
    assert.deepEqual(await runIt(), { code: 3, stdout: "one sync x true true dist" });
    assert.equal((await stat(join(cacheDir(), "bundles", cache))).mtimeMs, made.mtimeMs, "taken as it is, not made again");
  });

  it("never runs a cache of another bundle of the same length, and runs past a damaged one", async () => {
    await writeFile(bundle(), bundleSaying("one"));
    await runIt();
    await writeFile(bundle(), bundleSaying("two"));
    assert.deepEqual(await runIt(), { code: 3, stdout: "two sync x true true dist" });
    assert.equal((await cacheFiles()).length, 1, "the earlier build's cache is removed");
    for (const name of await cacheFiles()) await writeFile(join(cacheDir(), "bundles", name), "not a code cache");
    assert.deepEqual(await runIt(), { code: 3, stdout: "two sync x true true dist" });
  });

  it("keeps one cache for each kind of run named with --cache-for, which the bundle never sees", async () => {
    await writeFile(bundle(), bundleSaying("kinds"));
    const runAs = (kind: string) =>
      run(process.execPath, [LOADER, `--cache-for=${kind}`, bundle(), "sync", "x"], {
        env: { PATH: process.env.PATH, NODE_COMPILE_CACHE: cacheDir() },
      }).then(
        () => assert.fail("exit code 3 expected"),
        (error: { code: number; stdout: string }) => ({ code: error.code, stdout: error.stdout.trim() }),
      );
    for (const kind of ["sync", "status", "sync", "../../x", ""])
      assert.deepEqual(await runAs(kind), { code: 3, stdout: "kinds sync x true true dist" });
    await runIt();
    const kinds = (await cacheFiles()).map((name) => /^tool\.cjs-[0-9a-f]{16}-(?:([a-z-]+)-)?v\d/.exec(name)?.[1] ?? "none").sort();
    assert.deepEqual(kinds, ["none", "status", "sync"], "a kind that is not a word takes the cache for no kind");
  });

  it("keeps no cache when Node's compile cache is off", async () => {
    await writeFile(bundle(), bundleSaying("three"));
    const before = await cacheFiles();
    assert.deepEqual(await runIt({ NODE_COMPILE_CACHE: cacheDir(), NODE_DISABLE_COMPILE_CACHE: "1" }), {
      code: 3,
      stdout: "three sync x true true dist",
    });
    assert.deepEqual(await runIt({}), { code: 3, stdout: "three sync x true true dist" });
    assert.deepEqual(await cacheFiles(), before);
  });
});
