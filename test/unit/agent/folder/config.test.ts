import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { describe, it } from "node:test";
import { FolderError, readCloudSettings, readSettings, settingsWhenChanged } from "../../../../agent/folder/index.ts";
import { agentIdFor } from "../../../../gitstore/index.ts";
import { tempDir } from "../../../helpers/git.ts";

async function repoWith(config: Record<string, string | string[]>): Promise<string> {
  const dir = (await tempDir("folder-config")).path;
  execFileSync("git", ["init", "--quiet", dir]);
  for (const [name, value] of Object.entries(config)) {
    for (const v of Array.isArray(value) ? value : [value]) execFileSync("git", ["-C", dir, "config", "--add", name, v]);
  }
  return dir;
}

const AGENT = "5f0c3c52-5c43-4d2b-9a0e-8a7c8f2c8e11";
const BASE = { "cloudbridge.bucket": "my-bucket", "cloudbridge.repo": "photos", "annex.uuid": AGENT };

describe("the folder configuration", () => {
  it("reads every setting through one schema: defaults, units, region, endpoint, multi-valued globs", async () => {
    const dir = await repoWith({
      ...BASE,
      "cloudbridge.prefix": "team",
      "cloudbridge.region": "eu-west-1",
      "cloudbridge.endpoint": "http://127.0.0.1:4566",
      "cloudbridge.pollInterval": "10s",
      "cloudbridge.debounce": "2",
      "cloudbridge.largefiles.include": ["*.psd", "raw/**"],
    });
    try {
      const settings = await readSettings(dir);
      assert.deepEqual(settings.location, { bucket: "my-bucket", prefix: "team/", repo: "photos" });
      assert.equal(settings.region, "eu-west-1");
      assert.equal(settings.endpoint, "http://127.0.0.1:4566");
      assert.equal(settings.agent, AGENT);
      assert.equal(settings.pollIntervalMs, 10_000);
      assert.equal(settings.debounceMs, 2);
      assert.equal(settings.reconcileIntervalMs, 600_000);
      assert.equal(settings.listen, "auto");
      assert.equal(settings.wanted, "everything");
      assert.deepEqual(settings.largefiles.include, ["*.psd", "raw/**"]);
      assert.equal((await readCloudSettings(dir)).region, "eu-west-1");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("refuses a wrong value naming the setting and what to write", async () => {
    const dir = await repoWith({ ...BASE, "cloudbridge.listen": "carrier-pigeon", "cloudbridge.pollInterval": "soon" });
    try {
      await assert.rejects(readSettings(dir), (error: unknown) => {
        assert.ok(error instanceof FolderError);
        assert.equal(error.code, "invalid-setting");
        assert.match(error.message, /cloudbridge\.listen is "carrier-pigeon": use auto, xmpp, sqs or poll/);
        assert.match(error.message, /cloudbridge\.pollInterval is "soon": write a number/);
        return true;
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("refuses a malformed cloudbridge.endpoint before any request, naming the setting and what to write", async () => {
    const dir = await repoWith({ ...BASE, "cloudbridge.endpoint": "localhost:4566" });
    try {
      for (const read of [readSettings, readCloudSettings])
        await assert.rejects(read(dir), (error: unknown) => {
          assert.ok(error instanceof FolderError);
          assert.equal(error.code, "invalid-setting");
          assert.match(error.message, /"localhost:4566" in cloudbridge\.endpoint .*does not start with http:\/\/ or https:\/\//);
          assert.match(error.message, /git config cloudbridge\.endpoint URL/);
          return true;
        });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("notices, as a running daemon, settings changed in the global git config or in a file .git/config includes, not only in .git/config", async () => {
    const dir = await repoWith(BASE);
    const globalFile = join(dir, "global-gitconfig");
    const included = join(dir, "included-gitconfig");
    const saved = process.env.GIT_CONFIG_GLOBAL;
    process.env.GIT_CONFIG_GLOBAL = globalFile;
    try {
      execFileSync("git", ["-C", dir, "config", "include.path", included]);
      const look = settingsWhenChanged(dir, join(dir, ".git"));
      const first = await look();
      assert.equal(first.changed, true);
      assert.equal(first.settings?.uploadLimit, 0);
      assert.equal((await look()).changed, false, "nothing changed: not read again");
      execFileSync("git", ["config", "--file", globalFile, "cloudbridge.uploadLimit", "5MB"]);
      const global = await look();
      assert.equal(global.changed, true, "the global config was written");
      assert.equal(global.settings?.uploadLimit, 5_000_000);
      assert.equal((await look()).changed, false);
      execFileSync("git", ["config", "--file", included, "cloudbridge.uploadLimit", "1MB"]);
      const fromIncluded = await look();
      assert.equal(fromIncluded.changed, true, "the included file was written");
      assert.equal(fromIncluded.settings?.uploadLimit, 1_000_000);
      execFileSync("git", ["config", "--file", included, "cloudbridge.uploadLimit", "2MB"]);
      assert.equal((await look()).settings?.uploadLimit, 2_000_000, "and again, now that it is known to be read");
      assert.equal((await look()).changed, false);
    } finally {
      if (saved === undefined) delete process.env.GIT_CONFIG_GLOBAL;
      else process.env.GIT_CONFIG_GLOBAL = saved;
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("refuses a malformed queue or XMPP server URL before connecting, naming the setting and what to write", async () => {
    const dir = await repoWith({
      ...BASE,
      "cloudbridge.xmppService": "prosody.example.org:5222",
      "cloudbridge.queueUrl": "cloudbridge-alice-queue",
    });
    try {
      await assert.rejects(readSettings(dir), (error: unknown) => {
        assert.ok(error instanceof FolderError);
        assert.equal(error.code, "invalid-setting");
        assert.match(
          error.message,
          /cloudbridge\.xmppService is "prosody\.example\.org:5222": it does not start with xmpp:\/\/ or xmpps:\/\/.*write xmpp:\/\/HOST:PORT/,
        );
        assert.match(
          error.message,
          /cloudbridge\.queueUrl is "cloudbridge-alice-queue": it does not start with https:\/\/ or http:\/\/; write the queue's URL/,
        );
        return true;
      });
      execFileSync("git", ["-C", dir, "config", "cloudbridge.xmppService", "xmpps://xmpp.example.org:5223"]);
      execFileSync("git", ["-C", dir, "config", "cloudbridge.queueUrl", "https://sqs.eu-west-1.amazonaws.com/"]);
      await assert.rejects(readSettings(dir), /cloudbridge\.queueUrl is .*: it names no queue/);
      execFileSync("git", ["-C", dir, "config", "cloudbridge.queueUrl", "https://sqs.eu-west-1.amazonaws.com/123456789012/alice"]);
      const settings = await readSettings(dir);
      assert.equal(settings.xmppService, "xmpps://xmpp.example.org:5223");
      assert.equal(settings.queueUrl, "https://sqs.eu-west-1.amazonaws.com/123456789012/alice");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("refuses in the queue and XMPP server URLs what it refuses in the endpoint, and never repeats a password", async () => {
    const secret = "wJalrXUtnFEMIsecret";
    const cases: [string, string, RegExp][] = [
      ["cloudbridge.queueUrl", "https://sqs.eu-west-1.amazonaws.com/123456789012/alice?Action=x", /it has a query/],
      ["cloudbridge.queueUrl", "https://sqs.eu-west-1.amazonaws.com/123456789012/alice#top", /it has a fragment/],
      ["cloudbridge.xmppService", "xmpp://prosody.example.org:5222#top", /it has a fragment/],
      [
        "cloudbridge.xmppService",
        `xmpp://alice:${secret}@prosody.example.org:5222`,
        /is "xmpp:\/\/prosody\.example\.org:5222": it holds a user name or password/,
      ],
      [
        "cloudbridge.queueUrl",
        `https://alice:${secret}@sqs.example.com:99999/q`,
        /is "https:\/\/sqs\.example\.com:99999\/q": it is not a URL/,
      ],
      [
        "cloudbridge.endpoint",
        `https://alice:${secret}@s3.example.com:99999`,
        /"https:\/\/s3\.example\.com:99999" in cloudbridge\.endpoint .*: it is not a URL/,
      ],
    ];
    for (const [name, value, why] of cases) {
      const dir = await repoWith({ ...BASE, [name]: value });
      try {
        await assert.rejects(readSettings(dir), (error: unknown) => {
          assert.ok(error instanceof FolderError, `${name} = ${value}`);
          assert.equal(error.code, "invalid-setting");
          assert.match(error.message, why);
          assert.doesNotMatch(error.message, new RegExp(secret));
          return true;
        });
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    }
    const dir = await repoWith({ ...BASE, "cloudbridge.xmppService": "wss://xmpp.example.org/ws?room=home" });
    try {
      assert.equal((await readSettings(dir)).xmppService, "wss://xmpp.example.org/ws?room=home", "a WebSocket URL keeps its query");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("says a repository without the cloudbridge settings is not set up", async () => {
    const dir = await repoWith({ "cloudbridge.bucket": "my-bucket" });
    try {
      await assert.rejects(readSettings(dir), (error: unknown) => error instanceof FolderError && error.code === "not-a-folder");
      await assert.rejects(
        readCloudSettings(dir),
        /is not a cloudbridge folder \(its git config lacks .*\): run `cloudbridge init .* --remote s3:\/\/BUCKET\/REPO` or `cloudbridge clone/,
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("has one agent-id policy: annex.uuid for a folder, cloudbridge.agent for a plain repository, the same id kept", async () => {
    const dir = await repoWith({});
    const config = (name: string) => {
      try {
        return execFileSync("git", ["-C", dir, "config", "--get", name], { encoding: "utf8" }).trim();
      } catch {
        return undefined;
      }
    };
    try {
      const helperId = await agentIdFor(join(dir, ".git"), { folder: false });
      assert.equal(config("cloudbridge.agent"), helperId);
      assert.equal(config("annex.uuid"), undefined, "a plain repository is not made a git-annex repository");
      assert.equal(await agentIdFor(join(dir, ".git"), { folder: false }), helperId);
      const folderId = await agentIdFor(join(dir, ".git"), { folder: true });
      assert.equal(folderId, helperId, "becoming a folder keeps the id the helper used");
      assert.equal(config("annex.uuid"), helperId);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
