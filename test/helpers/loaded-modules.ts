import { appendFileSync } from "node:fs";
import { registerHooks } from "node:module";
import { fileURLToPath } from "node:url";

/**
 * Preloaded into a CLI child (`NODE_OPTIONS=--import=…`): every module the process loads is appended, by
 * URL, to the file named by CLOUDBRIDGE_TEST_LOADED_MODULES.
 */
const out = process.env.CLOUDBRIDGE_TEST_LOADED_MODULES;
if (out) {
  registerHooks({
    load(url, context, next) {
      appendFileSync(out, `${url}\n`);
      return next(url, context);
    },
  });
}

/** The environment that makes a child list the modules it loads into `file`. */
export function loadedModulesEnv(file: string): Record<string, string> {
  return { NODE_OPTIONS: `--import=${fileURLToPath(import.meta.url)}`, CLOUDBRIDGE_TEST_LOADED_MODULES: file };
}
