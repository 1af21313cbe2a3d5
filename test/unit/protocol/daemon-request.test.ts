import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  formatDaemonReply,
  formatDaemonRequest,
  formatHelperFrame,
  parseDaemonReply,
  parseDaemonRequest,
  parseHelperFrame,
  settingsText,
  SOCKET_VERSION,
  type DaemonRequest,
} from "../../../protocol/daemon-request.ts";

describe("the daemon socket's messages", () => {
  it("reads back every request it writes, as one line", () => {
    const requests: DaemonRequest[] = [
      { version: SOCKET_VERSION, ask: "sync" },
      { version: SOCKET_VERSION, ask: "remote-helper", url: "cloudbridge::s3://b/p/r", settings: "d" },
      {
        version: SOCKET_VERSION,
        ask: "remote-helper-in-worktree",
        url: "cloudbridge::s3://b/p/r",
        settings: "d",
        worktree: "/f/.git/worktrees/w",
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
    assert.equal(code(JSON.stringify({ version: SOCKET_VERSION, ask: "remote-helper", url: "u" })), "bad-request");
    assert.equal(code(JSON.stringify({ version: SOCKET_VERSION, ask: "remote-helper", settings: "d" })), "bad-request");
    assert.equal(
      code(JSON.stringify({ version: SOCKET_VERSION, ask: "remote-helper-in-worktree", url: "u", settings: "d" })),
      "bad-request",
    );
    // The requests of the previous helper (one per command) are no longer taken: that helper then works alone.
    assert.equal(
      code(JSON.stringify({ version: SOCKET_VERSION, ask: "remote-list", url: "u", settings: "d", forPush: true })),
      "unsupported",
    );
    const helper = { version: SOCKET_VERSION, ask: "remote-helper", url: "u", settings: "d" };
    assert.equal(code(JSON.stringify({ ...helper, extra: true })), "accepted");
    const parsed = parseDaemonRequest(JSON.stringify({ ...helper, extra: true }));
    assert.equal("extra" in parsed, false, "unknown fields are not carried on");
  });

  it("reads replies, refusals (the helper works alone) and failures (said as the helper's own) alike", () => {
    for (const reply of [
      { ok: true as const, value: "conversation" },
      { ok: false as const, code: "settings-differ", message: "other settings" },
      { ok: false as const, code: "failed", message: "Access denied" },
    ])
      assert.deepEqual(parseDaemonReply(formatDaemonReply(reply).trimEnd()), reply);
    assert.equal(parseDaemonReply("[]"), undefined);
    assert.equal(parseDaemonReply(JSON.stringify({ ok: false, code: 3 })), undefined);
  });

  it("reads back every frame of the remote helper's conversation it writes, one line each", () => {
    for (const frame of [
      { kind: "out" as const, text: "ok refs/heads/main" },
      { kind: "out" as const, text: "" },
      { kind: "err" as const, text: "warning: a ref in the bucket is damaged" },
      { kind: "exit" as const, code: 1 },
    ]) {
      const line = formatHelperFrame(frame);
      assert.equal(line.indexOf("\n"), line.length - 1);
      assert.deepEqual(parseHelperFrame(line.slice(0, -1)), frame);
    }
    assert.equal(formatHelperFrame({ kind: "out", text: "" }), "out \n", "a blank line for git is a frame too");
    assert.equal(parseHelperFrame("ok refs/heads/main"), undefined);
    assert.equal(parseHelperFrame("exit one"), undefined);
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
