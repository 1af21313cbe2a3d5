import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { configFromContext, ConfigError, parseConfig } from "../../../cdk/config.ts";
import { CDK_CONTEXT, synthStack } from "../../helpers/cdk.ts";

const minimal = { repos: ["notes"], agents: [{ name: "laptop", repos: ["notes"] }] };
const problems = (value: unknown): string => {
  try {
    parseConfig(value, "cdk.json");
  } catch (error) {
    assert.ok(error instanceof ConfigError);
    return error.message;
  }
  assert.fail("the configuration should have been refused");
};

describe("stack configuration", () => {
  it("fills in the documented defaults and normalizes the prefix", () => {
    const config = parseConfig({ ...minimal, prefix: "/team" }, "cdk.json");
    assert.equal(config.prefix, "team/");
    assert.equal(config.noncurrentVersionDays, 30);
    assert.equal(config.retiredPackDays, 7);
    assert.deepEqual(config.compaction, { schedule: "rate(1 day)", graceMinutes: 60 });
    assert.equal(config.xmpp, undefined);
    assert.equal(parseConfig(CDK_CONTEXT.cloudbridge, "cdk.json").repos.length, 2);
  });

  it("says which setting is wrong and what it should be", () => {
    assert.match(problems(undefined), /add a "cloudbridge" object to "context" in cdk.json/);
    assert.match(problems({ ...minimal, repos: ["../etc"] }), /cloudbridge\.repos\[0\]: is not a repository name/);
    assert.match(problems({ ...minimal, repos: ["notes", "notes"] }), /cloudbridge\.repos: names a repository twice/);
    assert.match(problems({ ...minimal, prefix: "a/../b" }), /cloudbridge\.prefix: is not a bucket prefix/);
    assert.match(
      problems({ ...minimal, agents: [{ name: "laptop", repos: ["notes", "photoz"] }] }),
      /cloudbridge\.agents\[0\]\.repos\[1\]: "photoz" is not one of the repos \(notes\)/,
    );
    assert.match(
      problems({ ...minimal, agents: [{ name: "Laptop 1", repos: ["notes"] }] }),
      /cloudbridge\.agents\[0\]\.name: must be 1–32 lowercase/,
    );
    assert.match(
      problems({
        ...minimal,
        agents: [
          { name: "laptop-1", repos: ["notes"] },
          { name: "laptop1", repos: ["notes"] },
        ],
      }),
      /cloudbridge\.agents\[1\]\.name: clashes with agent "laptop-1"/,
    );
    assert.match(problems({ ...minimal, noncurrentVersionDays: 0 }), /cloudbridge\.noncurrentVersionDays/);
    assert.match(
      problems({ ...minimal, notifications: { emails: ["nope"] } }),
      /cloudbridge\.notifications\.emails\[0\]: is not an e-mail address/,
    );
    assert.match(
      problems({ ...minimal, notifications: { https: ["http://x.example"] } }),
      /cloudbridge\.notifications\.https\[0\]: is not an https:\/\/ URL/,
    );
    assert.match(
      problems({ ...minimal, xmpp: { service: "https://x", notifier: "n@x", recipients: ["a@x"] } }),
      /cloudbridge\.xmpp\.service: must be xmpps:\/\/host/,
    );
    assert.match(
      problems({ ...minimal, xmpp: { service: "xmpp://x", notifier: "n@x/res", recipients: [] } }),
      /xmpp\.notifier: must be a bare address[\s\S]*xmpp\.recipients: must name at least one JID/,
    );
    assert.match(
      problems({ ...minimal, xmpp: { service: "xmpp://x", notifier: "n@x", recipients: ["a@x"], password: "p" } }),
      /xmpp: Unrecognized key: "password"/,
    );
    assert.match(problems({ ...minimal, compaction: { schedule: "every day" } }), /compaction\.schedule: must be an EventBridge schedule/);
  });

  it("reads a typed configuration file named by -c cloudbridgeConfig=…, and reports an unreadable one by path", async () => {
    const dir = await mkdtemp(join(tmpdir(), "cloudbridge-config-"));
    try {
      await writeFile(join(dir, "stack.json"), JSON.stringify({ ...minimal, prefix: "from-file" }));
      const context = (key: string) => ({ cloudbridgeConfig: "stack.json", cloudbridge: CDK_CONTEXT.cloudbridge })[key];
      assert.equal(configFromContext(context, dir).prefix, "from-file/");
      await writeFile(join(dir, "broken.json"), "{ repos: [");
      assert.throws(
        () => configFromContext((key) => (key === "cloudbridgeConfig" ? "broken.json" : undefined), dir),
        /broken\.json is not JSON/,
      );
      assert.throws(
        () => configFromContext((key) => (key === "cloudbridgeConfig" ? "missing.json" : undefined), dir),
        /Cannot read .*missing\.json/,
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("stops the synth with the same message", () => {
    assert.throws(
      () => synthStack({ repos: [] }),
      (error: Error) => error instanceof ConfigError && /cloudbridge\.repos: must name at least one repository/.test(error.message),
    );
  });
});
