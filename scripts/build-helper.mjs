// Bundles the remote helper (gitstore/remote-helper/main.ts and the project modules it imports) into one
// file, dist/git-remote-cloudbridge.cjs (CommonJS), which bin/git-remote-cloudbridge runs when it is up to date.
// (Where the repository's daemon runs, the launcher runs gitstore/remote-helper/through-daemon.pl instead,
// which needs no build.)
// git starts the helper at every push and fetch, and Node's ES module loader costs about as much per module
// as the module's own code: one file instead of ~57 halves the helper's start-up (docs/performance.md).
//
// Run by `npm ci` / `npm install` (prepare) and before `npm test`; `npm run build` by hand. Plain JavaScript
// so that whatever Node runs npm's scripts can run it. Packages stay outside the bundle (the AWS SDK and
// age are loaded from node_modules only when a command needs them), so the bundle lives beside node_modules.
//
// Next to the bundle, dist/git-remote-cloudbridge.inputs lists the files it was made from: the launcher runs
// the TypeScript sources instead whenever one of them is newer than the bundle (an edit, a checkout), so a
// stale bundle never runs. The bundle's time is set to when this build began, so that a file saved while
// it ran counts as newer.
import { mkdir, rename, rm, utimes, writeFile } from "node:fs/promises";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
export const ENTRY = "gitstore/remote-helper/main.ts";
export const BUNDLE = "dist/git-remote-cloudbridge.cjs";
export const INPUTS = "dist/git-remote-cloudbridge.inputs";
const STDIN_ENTRY = "<the bundle's entry>";

/** Builds the bundle and its list of inputs into `root` (the project, by default); each appears whole or not at all. */
export async function buildHelper(root = ROOT) {
  let esbuild;
  try {
    esbuild = await import("esbuild");
  } catch {
    // Installed without dev dependencies: the launcher runs the TypeScript sources, as it does without a bundle.
    console.error("cloudbridge: esbuild is not installed; the remote helper will run from its TypeScript sources.");
    return undefined;
  }
  const began = new Date();
  const bundle = join(root, BUNDLE);
  const inputs = join(root, INPUTS);
  const temporary = (path) => `${path}.${process.pid}.tmp`;
  await mkdir(dirname(bundle), { recursive: true });
  const build = (entry, outfile) =>
    esbuild.build({
      absWorkingDir: root,
      // The entry calls main() itself when it is the program (in the bundle no module is `import.meta.main`).
      stdin: {
        contents: `import { main } from "./${entry}";\nexport { main };\nif (require.main === module) void main();\n`,
        resolveDir: root,
        sourcefile: STDIN_ENTRY,
        loader: "ts",
      },
      define: { "import.meta.main": "false" },
      outfile: temporary(outfile),
      bundle: true,
      platform: "node",
      // CommonJS: a built-in module is then one require(), where an ES import of one also builds its ES
      // namespace, evaluating every lazy export (node:crypto's webcrypto, for one).
      format: "cjs",
      target: "node24",
      packages: "external",
      metafile: true,
      logLevel: "error",
      legalComments: "none",
    });
  try {
    const results = [await build(ENTRY, bundle)];
    // This script is one of the inputs too: a bundle made by an older version of it is not run either.
    const files = [...new Set(results.flatMap((result) => Object.keys(result.metafile.inputs)))]
      .filter((path) => path !== STDIN_ENTRY)
      .map((path) => relative(root, join(root, path)))
      .concat(relative(root, fileURLToPath(import.meta.url)));
    await writeFile(temporary(inputs), `${files.join("\n")}\n`);
    await utimes(temporary(bundle), began, began);
    await rename(temporary(inputs), inputs);
    await rename(temporary(bundle), bundle);
    return { bundle, inputs: files };
  } finally {
    for (const path of [bundle, inputs]) await rm(temporary(path), { force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  try {
    await buildHelper();
  } catch (error) {
    console.error(`cloudbridge: bundling the remote helper failed: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  }
}
