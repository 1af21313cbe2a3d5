import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { ESLint } from "eslint";
// @ts-expect-error -- the ESLint configuration is plain JavaScript without type declarations
import { FACES, PACKAGES } from "../../../eslint.config.js";

/**
 * The package rules in eslint.config.js, checked by linting small fixture modules placed (virtually) in
 * each package: every import the dependency matrix forbids must fail, every one it allows must pass, and a
 * deep import into another package must fail. So the rules cannot silently stop doing their job.
 */
const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const RULE = "cloudbridge/package-boundaries";
const matrix = PACKAGES as Record<string, string[]>;
const faces = FACES as Record<string, string[]>;
const packages = Object.keys(matrix);
const eslint = new ESLint({ cwd: ROOT });

/** The messages of the package rule for `code` linted as if it were `<pkg>/fixture/lint-fixture.ts`. */
async function boundaryMessages(pkg: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: `${ROOT}${pkg}/fixture/lint-fixture.ts` });
  assert.ok(result, "ESLint returned no result");
  const fatal = result.messages.filter((m) => m.fatal);
  assert.deepEqual(fatal, [], `the fixture does not parse: ${JSON.stringify(fatal)}`);
  return result.messages.filter((m) => m.ruleId === RULE).map((m) => m.message);
}

const fixture = (statement: string) => `${statement}\nexport const used = typeof value;\n`;

describe("the package dependency matrix, as ESLint enforces it", () => {
  it("names every package, with tests, benchmarks and scripts outside it", () => {
    assert.deepEqual(
      packages.sort(),
      ["agent", "annex", "cdk", "functions", "local", "localgit", "objectstore", "gitstore", "protocol"].sort(),
    );
    for (const allowed of Object.values(matrix)) for (const to of allowed) assert.ok(packages.includes(to), to);
  });

  for (const from of packages) {
    for (const to of packages.filter((p) => p !== from)) {
      const allowed = matrix[from]!.includes(to);
      it(`${from}/ importing ${to}/index.ts is ${allowed ? "allowed" : "refused"}`, async () => {
        const messages = await boundaryMessages(from, fixture(`import { value } from "../../${to}/index.ts";`));
        if (allowed) assert.deepEqual(messages, []);
        else {
          assert.equal(messages.length, 1, `no error for ${from} → ${to}`);
          assert.match(messages[0]!, new RegExp(`^${from}/ may import .*, not ${to}/`));
        }
      });
    }
  }

  it("refuses a forbidden package reached by a dynamic import(), by export … from, and by a type-only import", async () => {
    assert.equal((await boundaryMessages("agent", `export const load = () => import("../../local/cloud.ts");\n`)).length, 1);
    assert.equal((await boundaryMessages("protocol", `export * from "../../objectstore/index.ts";\n`)).length, 1);
    assert.equal((await boundaryMessages("cdk", fixture(`import type { value } from "../../functions/index.ts";`))).length, 1);
  });

  for (const [from, to] of [
    ["agent", "objectstore"],
    ["functions", "protocol"],
    ["local", "functions"],
    ["annex", "objectstore"],
  ] as const) {
    it(`refuses ${from}/ importing a file of ${to}/ other than its index.ts`, async () => {
      const messages = await boundaryMessages(from, fixture(`import { value } from "../../${to}/internals.ts";`));
      assert.equal(messages.length, 1, `no error for a deep import ${from} → ${to}`);
      assert.match(messages[0]!, new RegExp(`through its face, ${to}/index.ts`));
    });
  }

  it("lets a package import its own files, and leaves test/, bench/ and scripts/ free", async () => {
    assert.deepEqual(await boundaryMessages("agent", fixture(`import { value } from "../cli/errors.ts";`)), []);
    for (const free of ["test", "bench", "scripts"]) {
      assert.deepEqual(await boundaryMessages(free, fixture(`import { value } from "../../local/cloud.ts";`)), []);
    }
  });

  it("gives every package an index.ts, and every extra face exists", () => {
    for (const name of packages) assert.ok(existsSync(`${ROOT}${name}/index.ts`), `${name}/ has no index.ts`);
    for (const [name, files] of Object.entries(faces))
      for (const file of files) assert.ok(existsSync(`${ROOT}${name}/${file}`), `${name}/${file}`);
  });

  it("lets a package import another's extra face, and nothing else beside index.ts", async () => {
    assert.deepEqual(await boundaryMessages("functions", fixture(`import { value } from "../../gitstore/isomorphic-engine.ts";`)), []);
    assert.equal((await boundaryMessages("functions", fixture(`import { value } from "../../gitstore/push.ts";`))).length, 1);
  });
});
