// `node bin/run-bundle.cjs BUNDLE ARGS…` runs a CommonJS bundle (dist/, scripts/build-helper.mjs) as `node BUNDLE
// ARGS…` would, the program's main module, but compiled from a V8 code cache made at the end of a run rather
// than right after the bundle's compilation, as Node's own compile cache makes it. V8 compiles a function when
// it is first called; Node's cache holds only what was compiled before the bundle ran (its top level), so every
// run compiled again each module and function a sync calls (~20 ms of a no-op sync's ~160 ms of CPU at 50,000
// files: docs/performance.md). The cache made here holds them.
//
// The cache lives beside Node's (NODE_COMPILE_CACHE, which both launchers in bin/ set; none when it is unset or with
// NODE_DISABLE_COMPILE_CACHE=1), named by the bundle's content, Node's version and its architecture: V8 itself
// checks only the source's length, so a bundle rebuilt to the same length never meets the old cache. A cache V8
// rejects (other flags, another V8) is made again at the end of the run; one that cannot be read or written
// costs the compilation, never the run.
//
// `node bin/run-bundle.cjs --cache-for=KIND BUNDLE ARGS…`: a program whose runs do different things (the CLI's
// commands) names the kind of run, and each kind keeps a cache of its own: with one shared, the first run after
// a build would decide what every other finds compiled, and one that compiled little (a mistyped option:
// commander alone) would slow every sync until the next build (241 against 203 ms from its own cache,
// docs/performance.md).
"use strict";
const { hash } = require("node:crypto");
const { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } = require("node:fs");
const Module = require("node:module");
const { basename, dirname, join, resolve } = require("node:path");
const { constants, Script } = require("node:vm");

const cacheFor = /^--cache-for=(.*)$/s.exec(process.argv[2] ?? "");
if (cacheFor) process.argv.splice(2, 1);
// The kind is part of a file's name: a word, or the run takes the bundle's cache for no kind.
const kind = cacheFor && /^[a-z][a-z0-9-]*$/.test(cacheFor[1]) ? cacheFor[1] : undefined;
const bundle = resolve(process.argv[2]);
// The bundle is the program: its arguments are where `node BUNDLE ARGS…` puts them.
process.argv.splice(1, 1);
process.argv[1] = bundle;

// Hashed as read: a hash of the decoded text encodes it back to UTF-8 first (~3-4 ms more at every start).
const bytes = readFileSync(bundle);
const source = bytes.toString("utf8");
const cacheDir = process.env.NODE_COMPILE_CACHE && !process.env.NODE_DISABLE_COMPILE_CACHE ? process.env.NODE_COMPILE_CACHE : undefined;
// V8 rejects a cache made with other flags: each set of flags has its own, or two would replace each other.
const flags = hash("sha256", `${process.execArgv.join("\0")}\0${process.env.NODE_OPTIONS ?? ""}`).slice(0, 16);
// This installation's bundle (another checkout's has its own caches), its content, Node, the flags.
const installed = `${basename(bundle)}-${hash("sha256", bundle).slice(0, 16)}`;
const content = hash("sha256", bytes);
const cacheName = `${installed}-${kind ? `${kind}-` : ""}${process.version}-${process.arch}-${content}-${flags}`;
const cacheFile = cacheDir ? join(cacheDir, "bundles", cacheName) : undefined;
let cached;
try {
  if (cacheFile) cached = readFileSync(cacheFile);
} catch {
  // none yet: made at the end of this run
}

const script = new Script(Module.wrap(source), {
  filename: bundle,
  ...(cached ? { cachedData: cached } : {}),
  // The bundle imports ES modules (packages that are only that) with import(), as the main module would
  // (Node calls this option experimental and says so once, unless told not to, as bin/cloudbridge tells it).
  importModuleDynamically: constants.USE_MAIN_CONTEXT_DEFAULT_LOADER,
});
const main = new Module(bundle, null);
main.filename = bundle;
const bundleRequire = Module.createRequire(bundle);
bundleRequire.main = main;

if (cacheFile && (!cached || script.cachedDataRejected))
  process.once("exit", () => {
    const temporary = `${cacheFile}.${process.pid}.tmp`;
    try {
      mkdirSync(dirname(cacheFile), { recursive: true });
      writeFileSync(temporary, script.createCachedData());
      renameSync(temporary, cacheFile);
      // The caches of this bundle's earlier builds will never be read again.
      for (const name of readdirSync(dirname(cacheFile)))
        if (name.startsWith(`${installed}-`) && !name.includes(content) && !name.endsWith(".tmp"))
          rmSync(join(dirname(cacheFile), name), { force: true });
    } catch {
      try {
        rmSync(temporary, { force: true });
      } catch {
        // nothing more to do: the next run makes it again
      }
    }
  });

script.runInThisContext().call(main.exports, main.exports, bundleRequire, main, bundle, dirname(bundle));
main.loaded = true;
