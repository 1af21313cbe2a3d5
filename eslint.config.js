import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["node_modules/", "cdk.out/", "coverage/"] },
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
  // The contract does no I/O and depends on nothing but itself and the schema library.
  {
    files: ["protocol/**/*.ts"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            {
              group: [
                "node:*",
                "fs",
                "path",
                "http",
                "https",
                "net",
                "child_process",
                "@aws-sdk/*",
                "../agent/*",
                "../functions/*",
                "../cdk/*",
                "../local/*",
              ],
              message: "protocol/ is pure: no I/O and no dependency on other parts.",
            },
          ],
        },
      ],
    },
  },
  // objectstore/ is the one interface to the bucket, shared by agent/ and functions/.
  {
    files: ["objectstore/**/*.ts"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            {
              group: ["**/agent/*", "**/functions/*", "**/cdk/*", "**/local/*"],
              message: "objectstore/ depends on nothing but the AWS SDK.",
            },
          ],
        },
      ],
    },
  },
  // gitstore/ is git over the bucket, shared by the agent and the compaction function.
  {
    files: ["gitstore/**/*.ts"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            {
              group: ["**/agent/*", "**/functions/*", "**/cdk/*", "**/local/*"],
              message: "gitstore/ depends on protocol/ and objectstore/ only.",
            },
          ],
        },
      ],
    },
  },
  // agent/, functions/ and cdk/ depend on protocol/ (and objectstore/) and not on each other.
  {
    files: ["agent/**/*.ts"],
    rules: {
      "no-restricted-imports": [
        "error",
        { patterns: [{ group: ["**/functions/*", "**/cdk/*", "**/local/*"], message: "agent/ depends on protocol/ only." }] },
      ],
    },
  },
  {
    files: ["functions/**/*.ts"],
    rules: {
      "no-restricted-imports": [
        "error",
        { patterns: [{ group: ["**/agent/*", "**/cdk/*", "**/local/*"], message: "functions/ depends on protocol/ only." }] },
      ],
    },
  },
  {
    files: ["cdk/**/*.ts"],
    rules: {
      "no-restricted-imports": [
        "error",
        { patterns: [{ group: ["**/agent/*", "**/local/*"], message: "cdk/ depends on protocol/ (and bundles functions/ by path)." }] },
      ],
    },
  },
);
