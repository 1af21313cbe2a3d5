import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseLog } from "../../../../agent/history/git-log.ts";
import { forShell, forTerminal, forTerminalLines } from "../../../../agent/terminal-text.ts";

describe("text from elsewhere on a terminal", () => {
  it("shows every control, line-breaking and direction-changing character as a visible escape", () => {
    assert.equal(forTerminal("plain café ü 日本 \\x1b"), "plain café ü 日本 \\x1b");
    assert.equal(forTerminal("\x1b[2J\x1b]0;owned\x07"), "\\x1b[2J\\x1b]0;owned\\x07");
    assert.equal(forTerminal("\x9b31m"), "\\x9b31m", "the one-byte CSI of C1");
    assert.equal(forTerminal("a\nb\rc\td\x7f"), "a\\x0ab\\x0dc\\x09d\\x7f");
    assert.equal(forTerminal("evil\u202etxt.exe"), "evil\\u202etxt.exe");
    assert.equal(forTerminal("x\u2028y\u2066z"), "x\\u2028y\\u2066z");
    assert.equal(forTerminal(undefined), "");
    assert.equal(forTerminal({ not: "a string" }), "[object Object]");
    for (let code = 0; code < 0x20; code++)
      assert.equal(forTerminal(String.fromCharCode(code)), `\\x${code.toString(16).padStart(2, "0")}`);
  });

  it("keeps the line breaks and tabs of a message of several lines, nothing else", () => {
    assert.equal(forTerminalLines("first\n\tsecond\r\x1b[Kforged"), "first\n\tsecond\\x0d\\x1b[Kforged");
  });

  it("quotes a word of a command to paste only when the shell would not read it as that one word", () => {
    assert.equal(forShell("docs/notes.txt"), "docs/notes.txt");
    assert.equal(forShell("my notes.txt"), "'my notes.txt'");
    assert.equal(forShell("Bob's $HOME `x`.txt"), "'Bob'\\''s $HOME `x`.txt'");
    assert.equal(forShell("日本/名前.txt"), "'日本/名前.txt'");
    assert.equal(forShell("-rf"), "./-rf", "never read as an option");
    assert.equal(forShell("a\x1b[2Jb"), "'a\\x1b[2Jb'", "safe for the terminal first");
  });
});

describe("log records", () => {
  const oid = (c: string) => c.repeat(40);
  const record = (fields: string[]) => fields.map((f) => `${f}\0`).join("");

  it("reads commits and their files field by field", () => {
    const out = Buffer.from(
      record([oid("a"), oid("b"), "Ann", "agent-1@cloudbridge", "2026-11-28T21:00:00Z", "two files"]) +
        "\n" +
        record(["M", "x\ny.txt", "R100", "old", "new"]) +
        record([oid("b"), "", "Bob", "b@x", "2026-11-28T20:00:00Z", "first"]),
    );
    assert.deepEqual(parseLog(out), [
      {
        commit: oid("a"),
        merge: false,
        author: "Ann",
        agent: "agent-1",
        date: "2026-11-28T21:00:00Z",
        subject: "two files",
        files: [
          { status: "M", path: "x\ny.txt" },
          { status: "R100", path: "old → new" },
        ],
      },
      { commit: oid("b"), merge: false, author: "Bob", agent: "b@x", date: "2026-11-28T20:00:00Z", subject: "first", files: [] },
    ]);
  });

  it("leaves separator characters in a subject where they are", () => {
    const forged = `x\x1e${oid("c")}\x1f\x1fMallory\x1fm@x\x1f2020-01-01\x1fforged entry\n`;
    const out = Buffer.from(record([oid("a"), "", "Ann", "a@x", "2026-11-28T21:00:00Z", forged]));
    const entries = parseLog(out);
    assert.equal(entries.length, 1);
    assert.equal(entries[0]!.subject, forged);
  });

  it("refuses output it cannot read instead of guessing", () => {
    assert.throws(() => parseLog(Buffer.from("not a commit\0")), /git log printed something unexpected/);
  });
});
