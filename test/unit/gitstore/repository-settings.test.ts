import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { describe, it } from "node:test";
import { agentIdFor } from "../../../gitstore/agent-id.ts";
import { recordedEncryption } from "../../../gitstore/recorded-encryption.ts";
import { readConfig } from "../../../localgit/index.ts";
import { tempDir } from "../../helpers/git.ts";

const AGENT = "5f0c3c52-5c43-4d2b-9a0e-8a7c8f2c8e11";

describe("a repository's settings read once (the remote helper's one `git config --list`)", () => {
  it("give the agent id and the recorded encryption that reading them one by one gives", async () => {
    const dir = (await tempDir("repository-settings")).path;
    try {
      execFileSync("git", ["init", "--quiet", dir]);
      const gitDir = join(dir, ".git");
      const set = (name: string, value: string) => execFileSync("git", ["-C", dir, "config", "--add", name, value]);
      assert.equal(await recordedEncryption(gitDir, await readConfig(gitDir)), undefined);
      // A new id, written as cloudbridge.agent, and found there the next time.
      const made = await agentIdFor(gitDir, { config: await readConfig(gitDir) });
      assert.equal(await agentIdFor(gitDir), made);
      assert.equal(await agentIdFor(gitDir, { config: await readConfig(gitDir) }), made);
      set("annex.uuid", AGENT);
      set("cloudbridge.encrypted", "no");
      set("cloudbridge.encrypted", "Yes");
      const config = await readConfig(gitDir);
      assert.equal(await agentIdFor(gitDir, { config }), AGENT);
      assert.equal(await recordedEncryption(gitDir, config), true, "the last value wins, as with git config --get");
      assert.equal(await recordedEncryption(gitDir), true);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
