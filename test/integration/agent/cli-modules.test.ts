import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { agentEnv, cliOk } from "../../helpers/agents.ts";
import { tempDir } from "../../helpers/git.ts";
import { loadedModulesEnv } from "../../helpers/loaded-modules.ts";

/**
 * The CLI loads the command it runs, not every command's modules: each AWS SDK client, XMPP and the
 * onboarding code cost a sync (and the daemon, for its whole life) resident memory it never uses.
 */
describe("the modules a CLI command loads", () => {
  let scratch: { path: string; remove(): Promise<void> };
  before(async () => {
    scratch = await tempDir("cli-modules");
  });
  after(async () => scratch.remove());

  async function loadedBy(args: string[]): Promise<{ stdout: string; modules: string[] }> {
    const file = join(scratch.path, `${args.join("-")}.txt`);
    const { stdout } = await cliOk(args, agentEnv({}, loadedModulesEnv(file)));
    return { stdout, modules: (await readFile(file, "utf8")).trim().split("\n") };
  }

  it("`sync` loads S3's client and none of SNS, SQS, CloudFormation, XMPP or the other commands", async () => {
    const { modules } = await loadedBy(["sync", "--help"]);
    assert.ok(
      modules.some((url) => url.includes("/@aws-sdk/client-s3/")),
      "the S3 client is loaded",
    );
    for (const unused of [
      "@aws-sdk/client-sns",
      "@aws-sdk/client-sqs",
      "@aws-sdk/client-cloudformation",
      "@xmpp/client",
      "/commands/daemon.ts",
      "/commands/invite.ts",
    ])
      assert.ok(!modules.some((url) => url.includes(unused)), `sync loaded ${unused}`);
  });

  it("`--help` still lists every command", async () => {
    const { stdout } = await loadedBy(["--help"]);
    for (const command of ["init", "clone", "invite", "sync", "daemon", "status", "get", "compact", "key", "remove-queue"])
      assert.match(stdout, new RegExp(`^  ${command}\\b`, "m"), `--help lists ${command}`);
  });
});
