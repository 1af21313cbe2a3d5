import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { copyFile, mkdir, readdir, readFile, rm, symlink, utimes, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { tempDir } from "../../helpers/git.ts";

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL("../../../", import.meta.url));

describe("bin/cloudbridge", () => {
  it("answers --version and -V itself, with package.json's version, which the CLI's own --version says too", async () => {
    const { version } = JSON.parse(await readFile(`${ROOT}package.json`, "utf8")) as { version: string };
    // Without Node on the PATH and with a node binary that cannot run: the answer must not need Node at all.
    const env = { PATH: "/usr/bin:/bin", NODE_OPTIONS: "--this-option-does-not-exist" };
    for (const flag of ["--version", "-V"]) {
      const { stdout } = await run(`${ROOT}bin/cloudbridge`, [flag], { env });
      assert.equal(stdout, `${version}\n`);
    }
    const { stdout } = await run(process.execPath, ["--disable-warning=ExperimentalWarning", `${ROOT}agent/cli/main.ts`, "--version"]);
    assert.equal(stdout, `${version}\n`);
  });

  it("leaves every other command line to the CLI", async () => {
    const { stdout } = await run(`${ROOT}bin/cloudbridge`, ["status", "--help"]);
    assert.match(stdout, /Usage: cloudbridge status/);
  });
});

describe("bin/cloudbridge's commands", () => {
  // An install of its own: the launcher, the project's Node, stand-ins for the CLI's sources, its bundle and
  // three commands' files.
  let work: { path: string; remove(): Promise<void> };
  const SOURCE = "agent/cli/main.ts";
  const BUNDLE = "dist/cloudbridge.cjs";
  const INPUTS = "dist/cloudbridge.inputs";
  const at = (path: string) => join(work.path, path);
  const which = async (args: string[], env: NodeJS.ProcessEnv = {}) =>
    (await run(at("bin/cloudbridge"), args, { env: { PATH: process.env.PATH, ...env } })).stdout.trim();

  before(async () => {
    work = await tempDir("cli-launcher");
    for (const dir of ["bin", "agent/cli/commands", "dist", "node_modules/node/bin"]) await mkdir(at(dir), { recursive: true });
    await copyFile(`${ROOT}bin/cloudbridge`, at("bin/cloudbridge"));
    await copyFile(`${ROOT}bin/choose-entry.bash`, at("bin/choose-entry.bash"));
    await copyFile(`${ROOT}bin/run-bundle.cjs`, at("bin/run-bundle.cjs"));
    await symlink(`${ROOT}node_modules/node/bin/node`, at("node_modules/node/bin/node"));
    for (const command of ["sync", "status", "log", "daemon"]) await writeFile(at(`agent/cli/commands/${command}.ts`), "\n");
    await writeFile(at(SOURCE), 'console.log("sources", process.argv.slice(2).join(" "));\n');
    await writeFile(at(BUNDLE), 'console.log("bundle", process.argv.slice(2).join(" "));\n');
    await writeFile(at(INPUTS), `${SOURCE}\n`);
    const past = new Date(Date.now() - 60_000);
    await utimes(at(SOURCE), past, past);
  });
  after(async () => work.remove());

  it("runs the bundle for every command but the daemon while it is up to date, the sources for help, when it is stale or when asked to", async () => {
    assert.equal(await which(["sync", "dir", "--json"]), "bundle sync dir --json");
    assert.equal(await which(["status", "dir"]), "bundle status dir");
    assert.equal(await which(["log", "--json", "--", "--help"]), "bundle log --json -- --help", "a path named --help");
    assert.equal(await which(["daemon", "dir"]), "sources daemon dir");
    assert.equal(await which(["status", "--help"]), "sources status --help");
    assert.equal(await which(["sync", "-h"]), "sources sync -h");
    assert.equal(await which(["--help"]), "sources --help");
    assert.equal(await which([]), "sources");
    assert.equal(await which(["statsu", "dir"]), "sources statsu dir", "no such command");
    assert.equal(await which(["../../dist/x", "dir"]), "sources ../../dist/x dir");
    assert.equal(await which(["status"], { CLOUDBRIDGE_CLI_FROM_SOURCE: "1" }), "sources status");
    const future = new Date(Date.now() + 60_000);
    await utimes(at(SOURCE), future, future);
    assert.equal(await which(["sync"]), "sources sync", "a source edited after the bundle was made");
    await utimes(at(SOURCE), new Date(Date.now() - 60_000), new Date(Date.now() - 60_000));
  });

  it("keeps a code cache of the bundle for each command: each compiles different code", async () => {
    const cache = at("compile-cache");
    for (const args of [["sync", "dir"], ["status"], ["status", "dir"], ["log"]]) await which(args, { NODE_COMPILE_CACHE: cache });
    const names = await readdir(join(cache, "bundles"));
    assert.deepEqual(names.map((name) => /^cloudbridge\.cjs-[0-9a-f]{16}-([a-z-]+)-v\d/.exec(name)?.[1]).sort(), ["log", "status", "sync"]);
  });
});

describe("bin/git-remote-cloudbridge", () => {
  // An install of its own: the launcher, the project's Node, a stand-in for the helper's sources and
  // one for its bundle, each saying which it is, so that what the launcher chose is what runs.
  let work: { path: string; remove(): Promise<void> };
  let install: string;
  const SOURCE = "gitstore/remote-helper/main.ts";
  const RELAY = "gitstore/remote-helper/through-daemon.pl";
  const OTHER_INPUT = "scripts/build-helper.mjs";
  const BUNDLE = "dist/git-remote-cloudbridge.cjs";
  const INPUTS = "dist/git-remote-cloudbridge.inputs";
  const at = (path: string) => join(install, path);
  const age = (path: string, seconds: number) =>
    utimes(at(path), new Date(Date.now() + seconds * 1000), new Date(Date.now() + seconds * 1000));
  const which = async (options: { env?: NodeJS.ProcessEnv; launcher?: string } = {}) =>
    (
      await run(options.launcher ?? at("bin/git-remote-cloudbridge"), [], { env: { PATH: process.env.PATH, ...options.env } })
    ).stdout.trim();

  before(async () => {
    work = await tempDir("launcher");
    install = join(work.path, "install");
    for (const dir of ["bin", "gitstore/remote-helper", "scripts", "dist", "node_modules/node/bin"])
      await mkdir(at(dir), { recursive: true });
    await copyFile(`${ROOT}bin/git-remote-cloudbridge`, at("bin/git-remote-cloudbridge"));
    await copyFile(`${ROOT}bin/choose-entry.bash`, at("bin/choose-entry.bash"));
    await copyFile(`${ROOT}bin/run-bundle.cjs`, at("bin/run-bundle.cjs"));
    await symlink(`${ROOT}node_modules/node/bin/node`, at("node_modules/node/bin/node"));
    await writeFile(at(SOURCE), 'console.log("sources");\n');
    // The relay says so, then does what the real one does when the daemon declines: runs the launcher again.
    await writeFile(at(RELAY), 'print "relay\\n"; $ENV{CLOUDBRIDGE_HELPER_ALONE} = 1; exec $ARGV[0], @ARGV[1 .. $#ARGV];\n');
    await writeFile(at(OTHER_INPUT), "\n");
  });
  after(async () => work.remove());

  /** A bundle made now from both inputs, which are older. */
  async function freshBundle(): Promise<void> {
    await writeFile(at(BUNDLE), 'console.log("bundle");\n');
    await writeFile(at(INPUTS), `${SOURCE}\n${OTHER_INPUT}\n`);
    for (const input of [SOURCE, OTHER_INPUT]) await age(input, -60);
  }

  it("runs the bundle while it is newer than every file it was made from", async () => {
    await freshBundle();
    assert.equal(await which(), "bundle");
    // Found on the PATH, as git finds it, and through a link to it, as `npm install -g` makes one.
    assert.equal(await which({ launcher: "git-remote-cloudbridge", env: { PATH: `${at("bin")}:${process.env.PATH}` } }), "bundle");
    await mkdir(join(work.path, "global-bin"), { recursive: true });
    await symlink(at("bin/git-remote-cloudbridge"), join(work.path, "global-bin/git-remote-cloudbridge"));
    assert.equal(await which({ launcher: join(work.path, "global-bin/git-remote-cloudbridge") }), "bundle");
  });

  it("runs the bundle from the code cache of a run (bin/run-bundle.cjs), as its main module with git's arguments", async () => {
    await freshBundle();
    await writeFile(
      at(BUNDLE),
      'console.log("bundle", require.main === module, __filename === process.argv[1], process.argv.slice(2).join(" "));\n',
    );
    const cache = join(work.path, "compile-cache");
    const env = { NODE_COMPILE_CACHE: cache };
    const ran = async () =>
      (
        await run(at("bin/git-remote-cloudbridge"), ["origin", "cloudbridge::s3://b/r"], { env: { PATH: process.env.PATH, ...env } })
      ).stdout.trim();
    assert.equal(await ran(), "bundle true true origin cloudbridge::s3://b/r");
    const caches = await readdir(join(cache, "bundles"));
    assert.equal(caches.length, 1, "the run's code cache is kept");
    assert.match(caches[0]!, /^git-remote-cloudbridge\.cjs-/);
    assert.equal(await ran(), "bundle true true origin cloudbridge::s3://b/r", "and run from it");
    // Where the cache cannot be written (its folder's parent a file), the run costs the compilation, nothing else.
    env.NODE_COMPILE_CACHE = join(at(BUNDLE), "cache");
    assert.equal(await ran(), "bundle true true origin cloudbridge::s3://b/r");
  });

  it("runs the TypeScript sources when the bundle is stale, incomplete or missing, or when asked to", async () => {
    await freshBundle();
    assert.equal(await which({ env: { CLOUDBRIDGE_HELPER_FROM_SOURCE: "1" } }), "sources");
    await age(SOURCE, 60);
    assert.equal(await which(), "sources", "a source edited after the bundle was made");
    await freshBundle();
    await age(OTHER_INPUT, 60);
    assert.equal(await which(), "sources", "the build script changed since");
    await freshBundle();
    await writeFile(at(INPUTS), `${SOURCE}\ngitstore/gone.ts\n`);
    assert.equal(await which(), "sources", "a file it was made from is gone");
    await freshBundle();
    await rm(at(INPUTS));
    assert.equal(await which(), "sources", "no list of what it was made from");
    await freshBundle();
    await rm(at(BUNDLE));
    assert.equal(await which(), "sources", "no bundle");
  });

  it("runs the Perl relay to the daemon where the repository has a daemon's socket, and the helper alone when it runs the launcher again", async () => {
    const gitDir = join(work.path, "repo.git");
    await mkdir(join(gitDir, "cloudbridge"), { recursive: true });
    const sock = join(gitDir, "cloudbridge", "daemon.sock");
    const env = { GIT_DIR: gitDir };
    await freshBundle();
    assert.equal(await which({ env }), "bundle", "no socket: the helper alone");
    await writeFile(sock, "");
    assert.equal(await which({ env }), "bundle", "a file that is not a socket");
    await rm(sock);
    const server = createServer();
    await new Promise<void>((listening) => server.listen(sock, listening));
    try {
      assert.equal(await which({ env }), "relay\nbundle", "the relay, then (the daemon declining) the bundle");
      assert.equal(await which({ env: { ...env, CLOUDBRIDGE_HELPER_FROM_SOURCE: "1" } }), "relay\nsources");
      assert.equal(await which({ env: { ...env, CLOUDBRIDGE_HELPER_ALONE: "1" } }), "bundle", "asked to work alone");
      // No perl on the PATH (git does not need it everywhere): the helper alone, found without starting a process.
      const noPerl = join(work.path, "no-perl-bin");
      await mkdir(noPerl, { recursive: true });
      await symlink("/usr/bin/env", join(noPerl, "env"));
      await symlink("/bin/bash", join(noPerl, "bash"));
      assert.equal(await which({ env: { ...env, PATH: noPerl } }), "bundle");
    } finally {
      await new Promise((closed) => server.close(closed));
    }
  });

  it("in a linked worktree (its GIT_DIR names the repository's in `commondir`) runs the relay, which looks for the socket there", async () => {
    const worktree = join(work.path, "repo.git", "worktrees", "linked");
    await mkdir(worktree, { recursive: true });
    await freshBundle();
    assert.equal(await which({ env: { GIT_DIR: worktree } }), "bundle", "no commondir: not a linked worktree, and no socket");
    await writeFile(join(worktree, "commondir"), "../..\n");
    assert.equal(await which({ env: { GIT_DIR: worktree } }), "bundle", "no socket in the repository's directory");
    const sock = join(work.path, "repo.git", "cloudbridge", "daemon.sock");
    await mkdir(dirname(sock), { recursive: true });
    const server = createServer();
    await new Promise<void>((listening) => server.listen(sock, listening));
    try {
      assert.equal(await which({ env: { GIT_DIR: worktree } }), "relay\nbundle");
      await writeFile(join(worktree, "commondir"), join(work.path, "repo.git"));
      assert.equal(await which({ env: { GIT_DIR: worktree } }), "relay\nbundle", "an absolute commondir, no newline");
      assert.equal(await which({ env: { GIT_DIR: worktree, CLOUDBRIDGE_HELPER_ALONE: "1" } }), "bundle", "asked to work alone");
    } finally {
      await new Promise((closed) => server.close(closed));
    }
  });
});
