import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ProtocolError } from "../../../protocol/errors.ts";
import { assertAgentId, assertRefName, assertRepoName, normalizePrefix } from "../../../protocol/names.ts";

const rejects = (fn: () => unknown, code: string, pattern?: RegExp) =>
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof ProtocolError, `expected a ProtocolError, got ${String(error)}`);
    assert.equal(error.code, code);
    if (pattern) assert.match(error.message, pattern);
    return true;
  });

describe("repository names", () => {
  it("accepts ordinary names", () => {
    for (const name of ["demo", "photos-2026", "a", "My.Repo_1", "c++"]) assert.equal(assertRepoName(name), name);
  });
  it("rejects an empty name and says so", () => rejects(() => assertRepoName(""), "invalid-repo-name", /empty/));
  it("rejects a name with / and explains the prefix alternative", () =>
    rejects(() => assertRepoName("team/photos"), "invalid-repo-name", /prefix/));
  it("rejects traversal, dot names, .git suffixes and odd characters", () => {
    for (const name of ["..", ".", "../etc", "a..b", ".hidden", "x.git", "trailing.", "sp ace", "tab\t", "ü", "a".repeat(101)]) {
      rejects(() => assertRepoName(name), "invalid-repo-name");
    }
  });
});

describe("agent ids", () => {
  it("accepts a lowercase uuid", () => assert.ok(assertAgentId("0f8fad5b-d9cb-469f-a165-70867728950e")));
  it("rejects upper case, garbage and traversal", () => {
    for (const id of ["0F8FAD5B-D9CB-469F-A165-70867728950E", "x", "../0f8fad5b-d9cb-469f-a165-70867728950e", ""]) {
      rejects(() => assertAgentId(id), "invalid-agent-id");
    }
  });
});

describe("ref names (git check-ref-format)", () => {
  it("accepts branch, tag and synced refs", () => {
    for (const ref of ["refs/heads/main", "refs/tags/v1.0", "refs/heads/feature+x", "refs/heads/git-annex"])
      assert.equal(assertRefName(ref), ref);
  });
  it("rejects what git rejects", () => {
    for (const ref of [
      "",
      "heads/main",
      "refs/heads/../x",
      "refs/heads/a b",
      "refs/heads/a~1",
      "refs/heads/a^",
      "refs/heads/a:b",
      "refs/heads/x.lock",
      "refs/heads/.hidden",
      "refs/heads//x",
      "refs/heads/x/",
      "refs/heads/x.",
      "refs/heads/@{x}",
      "refs/heads/\u0001",
    ]) {
      rejects(() => assertRefName(ref), "invalid-ref-name");
    }
  });
});

describe("bucket prefixes", () => {
  it("normalizes to '' or 'a/b/'", () => {
    assert.equal(normalizePrefix(undefined), "");
    assert.equal(normalizePrefix(""), "");
    assert.equal(normalizePrefix("/"), "");
    assert.equal(normalizePrefix("team"), "team/");
    assert.equal(normalizePrefix("/team/sub/"), "team/sub/");
  });
  it("rejects traversal and empty segments", () => {
    for (const prefix of ["..", "a/../b", "a//b", "a/./b", "sp ace"]) rejects(() => normalizePrefix(prefix), "invalid-prefix");
  });
});
