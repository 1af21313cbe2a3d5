import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

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
