import { writeFileSync } from "node:fs";
import { registerHooks } from "node:module";
import { fileURLToPath } from "node:url";

/**
 * Preloaded into a CLI child (`--import=…`): when the process exits, the URL of every module it loaded
 * (ESM and CommonJS), one a line, is written to the file named by CLOUDBRIDGE_TEST_LOADED_MODULES, then
 * Node's public built-in modules loaded by then (however: `import`, `require`, `process.getBuiltinModule`),
 * as `node:<name>` lines.
 */
const out = process.env.CLOUDBRIDGE_TEST_LOADED_MODULES;
if (out) {
  const loaded: string[] = [];
  registerHooks({
    load(url, context, next) {
      if (!url.startsWith("node:")) loaded.push(url);
      return next(url, context);
    },
  });
  process.on("exit", () => {
    // Node's own list of what it loaded (not in its typings).
    const list = (process as unknown as { moduleLoadList: string[] }).moduleLoadList;
    const builtins = list.flatMap((entry) =>
      entry.startsWith("NativeModule ") && !entry.startsWith("NativeModule internal/")
        ? [`node:${entry.slice("NativeModule ".length)}`]
        : [],
    );
    writeFileSync(out, [...loaded, ...builtins].map((url) => `${url}\n`).join(""));
  });
}

/** The arguments that make a Node child record its modules into `file` (set CLOUDBRIDGE_TEST_LOADED_MODULES too). */
export function loadedModulesArgs(): string[] {
  return [`--import=${fileURLToPath(import.meta.url)}`];
}
