import js from "@eslint/js";
import { fileURLToPath } from "node:url";
import tseslint from "typescript-eslint";
import { packageBoundaries } from "./eslint/package-boundaries.js";

const ROOT = fileURLToPath(new URL(".", import.meta.url));

/**
 * The packages and what each may import (docs/architecture.md). protocol/ is the contract; objectstore/
 * is the bucket; localgit/ runs git on this machine; gitstore/ is git over the bucket; annex/ is large
 * content; agent/ is the CLI and daemon; functions/ are the Lambda handlers; cdk/ the stack; local/ the
 * cloud on one machine, which runs the real functions. test/, bench/ and scripts/ may import anything.
 */
export const PACKAGES = {
  protocol: [],
  objectstore: ["protocol"],
  localgit: ["protocol"],
  gitstore: ["protocol", "objectstore", "localgit"],
  annex: ["protocol", "objectstore", "localgit"],
  agent: ["protocol", "objectstore", "localgit", "gitstore", "annex"],
  functions: ["protocol", "objectstore", "gitstore"],
  cdk: ["protocol"],
  local: ["protocol", "objectstore", "functions"],
};
const PACKAGE_FILES = Object.keys(PACKAGES).map((name) => `${name}/**/*.ts`);
/**
 * Files that are faces besides each package's index.ts: gitstore's isomorphic engine is imported on its
 * own so that only the compaction function loads isomorphic-git; the clean filter git starts in a synced
 * folder (agent/git-filter/) loads only the large-file rule, the pointer and key formats, git config and
 * the object reader it asks the index through,
 * not the AWS SDK and the rest of every index (about 40 % of its start-up, measured); protocol's core
 * (layout, names, errors) so that the remote helper git starts at every push and fetch does not load the
 * schema library; the daemon's socket and its messages, which `cloudbridge sync` and the remote helper
 * load before anything else to ask a running daemon.
 */
export const FACES = {
  gitstore: ["isomorphic-engine.ts"],
  annex: ["content/largefiles.ts", "content/pointer.ts"],
  localgit: ["config.ts", "daemon-socket.ts", "objects.ts", "run.ts"],
  protocol: ["annex-key.ts", "core.ts", "daemon-request.ts"],
};

export default tseslint.config(
  { ignores: ["node_modules/", "cdk.out/", "coverage/", "dist/"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: {
        process: "readonly",
        console: "readonly",
        Buffer: "readonly",
        URL: "readonly",
        setTimeout: "readonly",
        clearTimeout: "readonly",
        setInterval: "readonly",
        clearInterval: "readonly",
        setImmediate: "readonly",
      },
    },
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "@typescript-eslint/consistent-type-imports": "error",
    },
  },
  // The launchers' CommonJS helper (bin/run-bundle.cjs) runs before any bundle: plain Node, required modules.
  {
    files: ["bin/**/*.cjs"],
    languageOptions: { sourceType: "commonjs", globals: { require: "readonly" } },
    rules: { "@typescript-eslint/no-require-imports": "off" },
  },
  // The daemon's page runs in the browser.
  {
    files: ["agent/ui/static/**/*.js"],
    languageOptions: {
      globals: {
        document: "readonly",
        fetch: "readonly",
        location: "readonly",
        EventSource: "readonly",
        addEventListener: "readonly",
        removeEventListener: "readonly",
      },
    },
  },
  // The contract does no I/O: no Node built-ins, no AWS SDK (the schema library is all it uses).
  {
    files: ["protocol/**/*.ts"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            {
              group: ["node:*", "fs", "path", "http", "https", "net", "child_process", "@aws-sdk/*"],
              message: "protocol/ is the contract and does no I/O: no Node built-ins, no AWS SDK.",
            },
          ],
        },
      ],
    },
  },
  // Which package may import which, and only through its index.ts (eslint/package-boundaries.js).
  {
    files: PACKAGE_FILES,
    plugins: { cloudbridge: { rules: { "package-boundaries": packageBoundaries } } },
    rules: { "cloudbridge/package-boundaries": ["error", { root: ROOT, packages: PACKAGES, faces: FACES }] },
  },
);
