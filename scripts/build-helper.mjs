// Bundles the programs git and people start most often, each into one CommonJS file beside node_modules:
// - the remote helper (gitstore/remote-helper/main.ts and the project modules it imports) into
//   dist/git-remote-cloudbridge.cjs, which bin/git-remote-cloudbridge runs when it is up to date (where the
//   repository's daemon runs, the launcher runs gitstore/remote-helper/through-daemon.pl instead, which needs
//   no build);
// - the CLI (agent/cli/main.ts, the project modules and zod) into dist/cloudbridge.cjs, which bin/cloudbridge
//   runs for every command but the daemon when it is up to date.
// Node's ES module loader costs about as much per module as the module's own code: one file instead of ~57
// halves the helper's start-up, and one instead of ~270 (zod alone is 95) takes about a fifth off a sync with
// no daemon and a third to a half off a `status` or a `log` (docs/performance.md).
//
// Run by `npm ci` / `npm install` (prepare) and before `npm test`; `npm run build` by hand. Plain JavaScript
// so that whatever Node runs npm's scripts can run it. Packages stay outside the bundles (the AWS SDK and
// age are loaded from node_modules only when a command needs them; CommonJS keeps each `require` where its
// module's code runs, so a command still loads only what it uses), zod aside: the CLI's settings need it
// at every start, and bundled it is one file instead of 95.
//
// Next to each bundle, dist/<name>.inputs lists the files it was made from: the launcher runs the TypeScript
// sources instead whenever one of them is newer than the bundle (an edit, a checkout), so a stale bundle
// never runs. The bundle's time is set to when this build began, so that a file saved while it ran counts
// as newer.
import { readFile, mkdir, rename, rm, utimes, writeFile } from "node:fs/promises";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const STDIN_ENTRY = "<the bundle's entry>";

/**
 * The bundles: what each starts from, and its entry, which calls the program's main itself when it is the
 * program (in a bundle no module is `import.meta.main`).
 */
export const BUNDLES = [
  {
    bundle: "dist/git-remote-cloudbridge.cjs",
    inputs: "dist/git-remote-cloudbridge.inputs",
    entry: `import { main } from "./gitstore/remote-helper/main.ts";\nexport { main };\nif (require.main === module) void main();\n`,
  },
  {
    bundle: "dist/cloudbridge.cjs",
    inputs: "dist/cloudbridge.inputs",
    entry:
      `import { main } from "./agent/cli/main.ts";\nexport { main };\n` +
      `if (require.main === module) void main(process.argv.slice(2)).then((code) => { process.exitCode = code; });\n`,
  },
];

/** Packages bundled rather than loaded from node_modules (see the top). */
const BUNDLED_PACKAGES = /^zod(\/|$)/;

/**
 * The agent's page server resolves its browser modules with `import.meta.resolve`, which a CommonJS bundle
 * has not: it stays outside the bundle and is loaded from its source when a daemon starts its page.
 */
const LEFT_AS_SOURCE = ["agent/ui/server.ts"];

/**
 * Each project module keeps the URL of its own file (`import.meta.url`: a module finding a file beside it, as
 * the git filter's registration finds the filter's program), not the bundle's; and packages stay outside
 * but zod.
 */
function whereSourcesAre(root, bundleDir) {
  return {
    name: "where-sources-are",
    setup(build) {
      build.onResolve({ filter: /^[^./]/ }, (args) =>
        args.path.startsWith("node:") || !BUNDLED_PACKAGES.test(args.path) ? { path: args.path, external: true } : undefined,
      );
      build.onResolve({ filter: /^\./ }, (args) => {
        const path = join(args.resolveDir, args.path);
        const source = relative(root, path);
        return LEFT_AS_SOURCE.includes(source) ? { path: `./${relative(bundleDir, path)}`, external: true } : undefined;
      });
      build.onLoad({ filter: /\.ts$/ }, async (args) => {
        const text = await readFile(args.path, "utf8");
        const own = `require("node:url").pathToFileURL(require("node:path").join(__dirname, ${JSON.stringify(relative(bundleDir, args.path))})).href`;
        return { contents: text.replaceAll("import.meta.url", own), loader: "ts" };
      });
    },
  };
}

/** Builds one bundle and its list of inputs into `root`; each appears whole or not at all. */
async function buildOne(esbuild, root, { bundle, inputs, entry }) {
  const began = new Date();
  const bundlePath = join(root, bundle);
  const inputsPath = join(root, inputs);
  const temporary = (path) => `${path}.${process.pid}.tmp`;
  await mkdir(dirname(bundlePath), { recursive: true });
  try {
    const result = await esbuild.build({
      absWorkingDir: root,
      stdin: { contents: entry, resolveDir: root, sourcefile: STDIN_ENTRY, loader: "ts" },
      define: { "import.meta.main": "false" },
      outfile: temporary(bundlePath),
      bundle: true,
      platform: "node",
      // CommonJS: a built-in module is then one require(), where an ES import of one also builds its ES
      // namespace, evaluating every lazy export (node:crypto's webcrypto, for one); and a package is
      // required where the module that imports it runs, not all at the start.
      format: "cjs",
      target: "node24",
      plugins: [whereSourcesAre(root, dirname(bundlePath))],
      metafile: true,
      logLevel: "error",
      legalComments: "none",
    });
    // A bundled package counts as its package.json (which npm rewrites with the package); this script is one
    // of the inputs too: a bundle made by an older version of it is not run either.
    const files = [
      ...new Set(
        Object.keys(result.metafile.inputs)
          .filter((path) => path !== STDIN_ENTRY)
          .map((path) => relative(root, join(root, path)).replace(/^(node_modules\/(?:@[^/]+\/)?[^/]+)\/.*$/, "$1/package.json")),
      ),
    ].concat(relative(root, fileURLToPath(import.meta.url)));
    await writeFile(temporary(inputsPath), `${files.join("\n")}\n`);
    await utimes(temporary(bundlePath), began, began);
    await rename(temporary(inputsPath), inputsPath);
    await rename(temporary(bundlePath), bundlePath);
    return { bundle: bundlePath, inputs: files };
  } finally {
    for (const path of [bundlePath, inputsPath]) await rm(temporary(path), { force: true });
  }
}

/** Builds every bundle into `root` (the project, by default). */
export async function buildBundles(root = ROOT) {
  let esbuild;
  try {
    esbuild = await import("esbuild");
  } catch {
    // Installed without dev dependencies: the launchers run the TypeScript sources, as they do without a bundle.
    console.error("cloudbridge: esbuild is not installed; the remote helper and the CLI will run from their TypeScript sources.");
    return undefined;
  }
  const built = [];
  for (const bundle of BUNDLES) built.push(await buildOne(esbuild, root, bundle));
  return built;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  try {
    await buildBundles();
  } catch (error) {
    console.error(`cloudbridge: bundling failed: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  }
}
