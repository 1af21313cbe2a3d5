import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  asRemoteAnswer,
  formatDaemonReply,
  formatDaemonRequest,
  isRefusal,
  parseDaemonReply,
  parseDaemonRequest,
  settingsText,
  SOCKET_VERSION,
  type DaemonRequest,
} from "../../../protocol/daemon-request.ts";

describe("the daemon socket's messages", () => {
  it("reads back every request it writes, as one line", () => {
    const requests: DaemonRequest[] = [
      { version: SOCKET_VERSION, ask: "sync" },
      { version: SOCKET_VERSION, ask: "remote-list", url: "cloudbridge::s3://b/r", settings: "d", forPush: true },
      {
        version: SOCKET_VERSION,
        ask: "remote-push",
        url: "cloudbridge::s3://b/p/r",
        settings: "d",
        commands: ["push +refs/heads/main:refs/heads/main", "push :refs/heads/gone"],
        dryRun: false,
      },
      {
        version: SOCKET_VERSION,
        ask: "remote-fetch",
        url: "cloudbridge::s3://b/r",
        settings: "d",
        commands: [`fetch ${"a".repeat(40)} refs/heads/main`],
      },
    ];
    for (const request of requests) {
      const line = formatDaemonRequest(request);
      assert.equal(line.indexOf("\n"), line.length - 1);
      assert.deepEqual(parseDaemonRequest(line.trimEnd()), request);
    }
  });

  it("refuses what is not a request it knows, saying which way, and takes nothing else from it", () => {
    const code = (line: string) => {
      const parsed = parseDaemonRequest(line);
      return "refused" in parsed ? parsed.refused.code : "accepted";
    };
    assert.equal(code("not json"), "bad-request");
    assert.equal(code(JSON.stringify({ version: SOCKET_VERSION + 1, ask: "sync" })), "unsupported");
    assert.equal(code(JSON.stringify({ version: SOCKET_VERSION, ask: "delete-everything" })), "unsupported");
    assert.equal(code(JSON.stringify({ version: SOCKET_VERSION, ask: "remote-list", url: "u", settings: "d" })), "bad-request");
    const push = { version: SOCKET_VERSION, ask: "remote-push", url: "u", settings: "d", dryRun: false };
    assert.equal(code(JSON.stringify({ ...push, commands: [] })), "bad-request");
    assert.equal(code(JSON.stringify({ ...push, commands: ["fetch 0 x"] })), "bad-request", "only push commands");
    assert.equal(code(JSON.stringify({ ...push, ask: "remote-fetch", commands: ["push a:b"] })), "bad-request", "only fetch commands");
    assert.equal(code(JSON.stringify({ ...push, commands: ["push a:b"], extra: true })), "accepted");
    const parsed = parseDaemonRequest(JSON.stringify({ ...push, commands: ["push a:b"], extra: true }));
    assert.equal("extra" in parsed, false, "unknown fields are not carried on");
  });

  it("reads replies, and tells a refusal (the helper works alone) from a failure (said as the helper's own)", () => {
    for (const reply of [
      { ok: true as const, value: { output: "ok refs/heads/main\n\n", stderr: [], progress: [] } },
      { ok: false as const, code: "settings-differ", message: "other settings" },
      { ok: false as const, code: "failed", message: "Access denied" },
    ])
      assert.deepEqual(parseDaemonReply(formatDaemonReply(reply).trimEnd()), reply);
    assert.equal(parseDaemonReply("[]"), undefined);
    assert.equal(parseDaemonReply(JSON.stringify({ ok: false, code: 3 })), undefined);
    assert.equal(isRefusal({ ok: false, code: "not-served", message: "" }), true);
    assert.equal(isRefusal({ ok: false, code: "unsupported", message: "" }), true);
    assert.equal(isRefusal({ ok: false, code: "failed", message: "" }), false);
    assert.deepEqual(asRemoteAnswer({ output: "\n", stderr: ["warning: x"], progress: [] }), {
      output: "\n",
      stderr: ["warning: x"],
      progress: [],
    });
    assert.equal(asRemoteAnswer({ output: "ok refs/heads/main", stderr: [], progress: [] }), undefined, "git's answer ends a line");
    assert.equal(asRemoteAnswer({ output: "\n", stderr: [1], progress: [] }), undefined);
  });

  it("compares the settings part of two environments whatever their order and the rest of them", () => {
    const a = { AWS_PROFILE: "p", HOME: "/home/u", PATH: "/bin", CLOUDBRIDGE_IDENTITY: "/k", AWS_REGION: "" };
    const b = { PATH: "/usr/bin", CLOUDBRIDGE_IDENTITY: "/k", HOME: "/home/u", AWS_PROFILE: "p", TERM: "x" };
    assert.equal(settingsText(a), settingsText(b));
    assert.equal(settingsText(a), "AWS_PROFILE=p\nCLOUDBRIDGE_IDENTITY=/k\nHOME=/home/u\n");
    for (const [name, value] of [
      ["AWS_ACCESS_KEY_ID", "other"],
      ["AWS_ENDPOINT_URL", "http://elsewhere"],
      ["XDG_CONFIG_HOME", "/elsewhere"],
      ["HOME", "/home/v"],
      ["GIT_CONFIG_PARAMETERS", "'cloudbridge.endpoint'='http://elsewhere'"],
      ["GIT_CONFIG_GLOBAL", "/elsewhere"],
    ])
      assert.notEqual(settingsText({ ...a, [name!]: value }), settingsText(a), name);
    // git configuration in the environment: what the helper reads counts, a daemon's own overrides do not.
    const given = (...pairs: Array<[string, string]>) => ({
      ...a,
      GIT_CONFIG_COUNT: String(pairs.length),
      ...Object.fromEntries(
        pairs.flatMap(([key, value], i) => [
          [`GIT_CONFIG_KEY_${i}`, key],
          [`GIT_CONFIG_VALUE_${i}`, value],
        ]),
      ),
    });
    assert.equal(settingsText(given(["cloudbridge.listen", "poll"], ["cloudbridge.debounce", "600000ms"])), settingsText(a));
    assert.notEqual(settingsText(given(["cloudbridge.listen", "poll"], ["cloudbridge.Endpoint", "http://elsewhere"])), settingsText(a));
    assert.notEqual(settingsText(given(["include.path", "/elsewhere.gitconfig"])), settingsText(a));
  });
});
